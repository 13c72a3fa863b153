//! The contract between generated code and the runtime, defined once (as
//! wasmtime's `builtin.rs` and `vmoffsets.rs` are): the layout generated code
//! reads, the codes it passes, the names it uses, and the table of runtime
//! functions. Codegen declares its callees from `RuntimeFn`, and the runtime maps
//! every `RuntimeFn` to its Rust function through the same table with the Rust
//! types spelled out (`runtime::address`), so a signature that drifts on either
//! side does not compile. The runtime asserts the offsets against its structs.

/// Byte offsets of the fields of `runtime::CallCtx` that generated code reads.
pub mod ctx {
    /// `u32`, nonzero once a runtime error was raised in the call.
    pub const TRAPPED: i64 = 0;
    /// `AtomicU32`, set to 1 by the deadline watchdog.
    pub const INTERRUPT: i64 = 4;
    /// `usize`, the lowest stack address code may reach.
    pub const STACK_LIMIT: i64 = 8;
    /// `i64`, the `site` a function leaves from after an error, stored there just
    /// before its one call of `ore.rt.frame`.
    pub const SITE: i64 = 16;
}

/// An Ore array is a pointer to this header; `runtime::arena::ArrayHeader` is its
/// Rust side. Arrays Ore makes keep their elements right after it; an array that
/// lends a host buffer (a NumPy array passed from Python) points into that buffer.
pub mod array {
    /// `i64`, the number of elements; it never changes.
    pub const LEN: i64 = 0;
    /// `*mut i64`, the first element (8-byte elements: i64, or f64 bit patterns);
    /// it never changes.
    pub const DATA: i64 = 8;
}

/// The version of the contract between generated code and the runtime (this
/// file); object cache keys include it. Bump it with any change here.
pub const VERSION: u32 = 3;

/// Byte offsets in a function's slot (`engine::Slot`).
pub mod slot {
    /// The address to call, 0 while the current definition is not compiled.
    pub const CODE: usize = 0;
    /// The number of the definition the slot stands for (inlined copies check it).
    pub const DEFINITION: usize = 8;
    /// `i64`, counted down by each call of tier-0 code and each iteration of its
    /// loops; what brings it to 0 asks for the top tier (`ore.rt.tier_up`). A new
    /// definition resets it.
    pub const COUNTDOWN: usize = 24;
    /// The address of the top tier's table of loop entries (`osr_table_symbol`),
    /// once it is linked; 0 before, and for every new definition.
    pub const OSR_TABLE: usize = 32;
}

/// The top tier's table of loop entries (on-stack replacement): pointer-sized
/// words, the first the address of the definition's `definition_symbol` (tier-0
/// code of another definition must not enter it), then one word per loop of
/// `tir::Function::osr_loops`, in its order: the entry at that loop
/// (`osr_entry_symbol`), or null. The top tier has an entry at the loop whose
/// iterations made the function hot.
/// An entry takes the call's context and a buffer holding each local of the
/// function (8 bytes each, in `tir::Function::locals` order), and runs the rest
/// of the call from the loop's header.
pub mod osr_table {
    /// Bytes from the table's start to the first entry.
    pub const FIRST_ENTRY: i64 = 8;
}

/// Codes generated code passes to `ore.rt.trap`.
pub mod trap {
    pub const DIVISION_BY_ZERO: i64 = 1;
    pub const INDEX_OUT_OF_BOUNDS: i64 = 2;
    pub const STACK_OVERFLOW: i64 = 3;
    pub const TIMEOUT: i64 = 4;
}

/// How generated code passes a place in a function to the runtime: its 1-based
/// line in the upper 32 bits and its column in the lower 32 (`runtime::trace`).
pub mod site {
    /// The site of line `line`, column `column`.
    pub fn pack(line: usize, column: usize) -> i64 {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX) as i64;
        (clamp(line) << 32) | clamp(column)
    }

    /// The line and column of `site`.
    pub fn unpack(site: i64) -> (u32, u32) {
        ((site >> 32) as u32, site as u32)
    }
}

/// How generated code names a function in its frames: the function's name and
/// its module's, separated by a NUL (a module name with a NUL in it is cut there).
pub fn frame_names(function: &str, module: &str) -> Vec<u8> {
    [function.as_bytes(), b"\0", module.as_bytes()].concat()
}

/// Tags of `py_call` arguments.
pub mod py_arg {
    pub const I64: i64 = 0;
    pub const F64: i64 = 1;
    pub const BOOL: i64 = 2;
    pub const STR: i64 = 3;
}

/// How a `py_eval*`/`py_call*` result is converted.
pub mod py_conversion {
    pub const DROP: i64 = 0;
    pub const I64: i64 = 1;
    pub const F64: i64 = 2;
    pub const BOOL: i64 = 3;
    pub const STR: i64 = 4;
}

/// Parameters a registered host function may have (`Namespace::register`).
pub const MAX_HOST_PARAMS: usize = 6;

/// The most arguments `py_call*` passes to Python (`ore.rt.py_call` takes this
/// many tag and value pairs).
pub const MAX_PY_ARGS: usize = 4;

/// Every symbol Ore generates starts with this (runtime functions, function
/// versions, copies, thunks, trampolines); Ore names cannot contain a `.`, and an
/// external IR module may not define such names.
pub const RESERVED_PREFIX: &str = "ore.";

/// The symbol of a definition of Ore function `name`. A module's code has a
/// dylib of its own, so the name alone is unique where it is defined, and the
/// same code compiles to the same object however many definitions came before.
pub fn function_symbol(name: &str) -> String {
    // `concat`, not `format!`: made for every function of every module added.
    [RESERVED_PREFIX, name].concat()
}

/// The symbol whose *address* is the number of the definition of `name` that a
/// caller's guarded copy was made from (compared with the slot's `DEFINITION`
/// word): a link-time constant, not one in the code, for the same reason.
pub fn definition_symbol(name: &str) -> String {
    [RESERVED_PREFIX, "definition.", name].concat()
}

/// The symbol of the top-tier code of Ore function `name`, which the engine
/// compiles in the background once the tier-0 code (`function_symbol`) is hot.
pub fn top_tier_symbol(name: &str) -> String {
    format!("{RESERVED_PREFIX}top.{name}")
}

/// The symbol of the top tier's table of loop entries of `name` (`osr_table`).
pub fn osr_table_symbol(name: &str) -> String {
    format!("{RESERVED_PREFIX}osr.{name}")
}

/// The symbol of the top tier's entry of `name` at its `index`th loop
/// (`osr_table`).
pub fn osr_entry_symbol(name: &str, index: usize) -> String {
    format!("{RESERVED_PREFIX}entry.{index}.{name}")
}

/// The symbol of a caller's inlined copy of Ore function `name` (internal to the
/// caller's module).
pub fn copy_symbol(name: &str) -> String {
    format!("{RESERVED_PREFIX}copy.{name}")
}

/// The symbol of the C thunk that runs the closure registered as host function `name`.
pub fn closure_thunk_symbol(name: &str) -> String {
    format!("{RESERVED_PREFIX}host.{name}")
}

/// The symbol the linker resolves to the address of the slot with `key` (a function's
/// name, or `extern_slot_key`): code refers to slots by symbol, never by address, so
/// an object file does not depend on the process that compiled it.
pub fn slot_symbol(key: &str) -> String {
    [RESERVED_PREFIX, "slot.", key].concat()
}

/// The key of the slot through which Ore code calls LLVM IR function `symbol`
/// (no Ore function's name has a space).
pub fn extern_slot_key(symbol: &str) -> String {
    format!("extern {symbol}")
}

/// How profilers name a symbol Ore generated: `NAME` for a definition of Ore
/// function `NAME` (either tier), `NAME (copy)` for a copy of it a caller
/// carries, `NAME (loop entry)` for a top tier's entry at a loop; other symbols (trampolines, thunks, IR functions) as they are.
pub fn display_name(symbol: &str) -> String {
    let Some(rest) = symbol.strip_prefix(RESERVED_PREFIX) else { return symbol.to_string() };
    if let Some(name) = rest.strip_prefix("copy.") {
        return format!("{name} (copy)");
    }
    if let Some(name) = rest.strip_prefix("top.") {
        return name.to_string();
    }
    if let Some((_, name)) = rest.strip_prefix("entry.").and_then(|r| r.split_once('.')) {
        return format!("{name} (loop entry)");
    }
    if rest.contains('.') {
        symbol.to_string()
    } else {
        rest.to_string()
    }
}

/// Prefix of host-entry trampoline symbols and modules.
pub const TRAMPOLINE_PREFIX: &str = "ore.tramp.";

/// Prefix of the runtime functions' symbols (`RuntimeFn::symbol`).
pub const RUNTIME_PREFIX: &str = "ore.rt.";

/// Whether a C symbol belongs to the Python C-API (Python must be running before
/// code that calls it does).
pub fn is_python_symbol(name: &str) -> bool {
    name.starts_with("Py") || name.starts_with("_Py")
}

/// What a runtime function takes or returns, as the C ABI sees it. Codegen maps
/// every pointer kind to LLVM's `ptr`; the runtime maps each to its own Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    /// The call's `*mut CallCtx`.
    Ctx,
    /// An Ore `str`: NUL-terminated bytes, or NULL from C.
    Str,
    /// An Ore array (a pointer to its header, `abi::array`).
    Array,
    /// The address of machine code.
    Code,
    /// A registered closure (`*const HostClosure`).
    Closure,
    /// 8-byte argument slots of a closure call.
    Slots,
    I64,
    F64,
    Void,
}

/// Calls `$callback!` with the table of runtime functions: for each, the variant,
/// the Rust function's name, the symbol, parameters and result.
#[macro_export]
#[doc(hidden)]
macro_rules! for_each_runtime_function {
    ($callback:ident) => {
        $callback! {
            /// Raises runtime error `code` (`abi::trap`) with details `a`, `b`, in
            /// the function the frame names and site (`Frame`'s) describe.
            Trap ore_rt_trap "ore.rt.trap" (Ctx, I64, I64, I64, Str, I64) -> Void;
            /// Adds a frame to the trace of the error being raised: the function's
            /// `frame_names`, and the site it leaves from (`ctx::SITE`).
            Frame ore_rt_frame "ore.rt.frame" (Ctx, Str) -> Void;
            /// `[fill; len]` in the call's arena; null after raising an error.
            ArrayNew ore_rt_array_new "ore.rt.array_new" (Ctx, I64, I64) -> Array;
            /// Where the call's arena is, for a function that makes arrays and
            /// returns none to `release` to when it returns (`runtime::arena`).
            ArenaMark ore_rt_arena_mark "ore.rt.arena_mark" (Ctx) -> I64;
            /// Frees the arrays made since the mark.
            ArenaRelease ore_rt_arena_release "ore.rt.arena_release" (Ctx, I64) -> Void;
            PrintI64 ore_rt_print_i64 "ore.rt.print_i64" (Ctx, I64) -> Void;
            PrintF64 ore_rt_print_f64 "ore.rt.print_f64" (Ctx, F64) -> Void;
            /// The bool widened to i64.
            PrintBool ore_rt_print_bool "ore.rt.print_bool" (Ctx, I64) -> Void;
            PrintStr ore_rt_print_str "ore.rt.print_str" (Ctx, Str) -> Void;
            /// The code of the function named by the literal, compiling it if needed.
            /// Never null: after raising an error, code that takes any arguments
            /// and returns at once, so the call's test of `ctx::TRAPPED` leaves.
            Resolve ore_rt_resolve "ore.rt.resolve" (Ctx, Str) -> Code;
            /// The current code of the LLVM IR function named by the literal, whose
            /// slot was empty (its module was removed); as `Resolve` after an error.
            ResolveExtern ore_rt_resolve_extern "ore.rt.resolve_extern" (Ctx, Str) -> Code;
            /// Tier-0 code of the function named by the literal is hot: compile
            /// its top tier in the background, with an entry at the loop of
            /// `osr_table` index given if it is not -1 (the count ran out there).
            TierUp ore_rt_tier_up "ore.rt.tier_up" (Ctx, Str, I64) -> Void;
            /// Tier-0 code of the function named by the literal moves its call into
            /// the top tier at a loop (`osr_table`); counts it.
            OsrEntered ore_rt_osr_entered "ore.rt.osr_entered" (Ctx, Str) -> Void;
            /// `load(src)`: 1 if the module compiled.
            Load ore_rt_load "ore.rt.load" (Ctx, Str) -> I64;
            PyExec ore_rt_py_exec "ore.rt.py_exec" (Ctx, Str) -> Void;
            /// `py_eval_*(expr)` with an `abi::py_conversion` code.
            PyEval ore_rt_py_eval "ore.rt.py_eval" (Ctx, Str, I64) -> I64;
            /// `py_call*(callable, ...)`: the count, `MAX_PY_ARGS` (tag, value)
            /// pairs, and the conversion.
            PyCall ore_rt_py_call "ore.rt.py_call" (Ctx, Str, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64) -> I64;
            /// Runs a registered closure for its thunk: its result's bits.
            CallClosure ore_rt_call_closure "ore.rt.call_closure" (Closure, Slots) -> I64;
        }
    };
}

macro_rules! define_runtime_fn {
    ($($(#[$doc:meta])* $variant:ident $rust:ident $symbol:literal ($($param:ident),*) -> $ret:ident;)*) => {
        /// A function of the runtime that generated code calls.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum RuntimeFn {
            $($(#[$doc])* $variant,)*
        }

        impl RuntimeFn {
            /// Every runtime function.
            pub const ALL: &'static [RuntimeFn] = &[$(RuntimeFn::$variant),*];

            /// The symbol generated code calls it by.
            pub fn symbol(self) -> &'static str {
                match self {
                    $(RuntimeFn::$variant => $symbol,)*
                }
            }

            pub fn params(self) -> &'static [AbiType] {
                match self {
                    $(RuntimeFn::$variant => &[$(AbiType::$param),*],)*
                }
            }

            pub fn ret(self) -> AbiType {
                match self {
                    $(RuntimeFn::$variant => AbiType::$ret,)*
                }
            }
        }
    };
}

for_each_runtime_function!(define_runtime_fn);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_symbols_are_reserved_and_distinct() {
        let mut symbols: Vec<&str> = RuntimeFn::ALL.iter().map(|f| f.symbol()).collect();
        assert!(symbols.iter().all(|s| s.starts_with(RUNTIME_PREFIX)) && RUNTIME_PREFIX.starts_with(RESERVED_PREFIX));
        symbols.sort();
        symbols.dedup();
        assert_eq!(symbols.len(), RuntimeFn::ALL.len());
        // py_call: callable, count, a (tag, value) pair per argument, conversion.
        assert_eq!(RuntimeFn::PyCall.params().len(), 3 + 2 * MAX_PY_ARGS + 1);
        assert!(TRAMPOLINE_PREFIX.starts_with(RESERVED_PREFIX) && function_symbol("f").starts_with(RESERVED_PREFIX));
    }
}
