//! LLVM IR generation: one typed function in, one LLVM module out. Each function is
//! generated on its own, at its first call (see `engine`), which is what makes a
//! never-called function cost nothing beyond parsing and checking.
//!
//! Calling convention of Ore functions: `ret f(ptr ctx, params...)`, where `ctx` is
//! the caller's `runtime::CallCtx`. A call to an Ore function loads the callee's
//! *slot* (words owned by the engine, which the code names by symbol,
//! `abi::slot_symbol`, for the linker to resolve) and calls what it holds: the
//! compiled body, or null while there is none, in which case the call goes to
//! `ore.rt.resolve`, which compiles the current definition (or raises `undefined
//! function NAME`). Replacing a function is one store to its
//! slot. Above -O0, a function calls itself directly instead, and tests at entry
//! that it is still its name's definition (`calls.rs`, `forward_if_replaced`).
//! After every call that can fail, the caller tests `ctx.trapped` and returns
//! at once if it is set.
//!
//! Files: `function.rs` (function bodies: expressions, statements, operators),
//! `checks.rs` (runtime-error paths: traps, the trapped test, stack and interrupt
//! checks), `calls.rs` (calls through slots, guarded inline copies, `extern fn`,
//! Python), `inline.rs` (the whole policy for copying callees into callers),
//! `ranges.rs` (loops whose indexing is checked once, before the loop),
//! `tier0.rs` (tier 0's counting and its moves into the top tier), `glue.rs`
//! (host-entry trampolines and closure thunks).

mod calls;
mod checks;
mod function;
mod glue;
pub mod inline;
mod ranges;
mod tier0;

pub use glue::{c_trampoline_symbol, generate_c_trampoline, generate_closure_thunk, generate_trampoline, trampoline_symbol};
pub use inline::InlineCopy;

use crate::abi::{AbiType, RuntimeFn};
use crate::llvm::ir::{Function, IrModule, Type};
use crate::tir;
use crate::types::{CType, FnSig, Ty};
use function::{Body, FnCodegen};
use std::ffi::CStr;

/// What the code generator asks about the functions a body calls: the engine
/// answers from a table it builds once per compiled function.
pub trait Callees {
    /// With `Unchecked::direct_calls`: the symbol of `name`'s definition, if the
    /// caller's module made it.
    fn direct(&self, name: &str) -> Option<String>;
    /// A copy of `name` for callers to carry, if it may have one (`inline`).
    fn inline(&self, name: &str) -> Option<InlineCopy>;
    /// Whether to call C symbol `symbol` through a slot (`abi::extern_slot_key`):
    /// so it is for functions of LLVM IR modules, which may be replaced or removed.
    fn extern_slot(&self, symbol: &str) -> bool;
}

/// Unwraps a value, or ends the current expression: `None` means control cannot
/// reach this point (a `return`/`break` came first), so there is nothing to emit.
macro_rules! value {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return None,
        }
    };
}
use value;

/// The LLVM type of an Ore value; `None` for unit and `!`, which have no value.
pub(crate) fn value_type<'m>(m: &'m IrModule, ty: Ty) -> Option<Type<'m>> {
    match ty {
        Ty::I64 => Some(m.i64()),
        Ty::F64 => Some(m.f64()),
        Ty::Bool => Some(m.i1()),
        Ty::Str | Ty::Ptr | Ty::ArrayI64 | Ty::ArrayF64 => Some(m.ptr()),
        Ty::Unit | Ty::Never => None,
    }
}

pub(crate) fn ore_fn_type<'m>(m: &'m IrModule, sig: &FnSig) -> Type<'m> {
    let mut params = vec![m.ptr()];
    params.extend(sig.params.iter().map(|t| value_type(m, *t).expect("parameters have values")));
    m.fn_type(value_type(m, sig.ret).unwrap_or_else(|| m.void()), &params)
}

pub(crate) fn c_type<'m>(m: &'m IrModule, ty: CType) -> Type<'m> {
    match ty {
        CType::I64 => m.i64(),
        CType::I32 => m.i32(),
        CType::F64 => m.f64(),
        CType::Bool => m.i8(),
        CType::Str | CType::Ptr => m.ptr(),
        CType::Unit => m.void(),
    }
}

/// Choices the engine makes for all the code it generates.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Test the call's interrupt word at function entry and loop back-edges
    /// (deadlines; see `runtime::deadline`).
    pub interruptible: bool,
    /// Safety checks left out, to measure what they cost (`Unchecked`).
    pub unchecked: Unchecked,
    /// Emit DWARF: functions, line tables, parameters and locals (`ore run -g`).
    pub debug_info: bool,
    /// Tier 0: count the function's calls down in its slot
    /// (`abi::slot::COUNTDOWN`) and ask for the top tier when it is hot.
    pub count_calls: bool,
    /// The top tier of a hot function: calls of small callees get copies at
    /// every call site, not only in loops (`inline`, rule 3).
    pub hot: bool,
    /// The code will be compiled at -O0, by FastISel: use only what it selects
    /// (one instruction it cannot sends the rest of its block to SelectionDAG).
    pub fast_isel: bool,
}

/// For measurement only (`ore run --unchecked`): each flag removes one of the
/// checks LANGUAGE.md requires, so programs that would trip it are undefined
/// behaviour. `direct_calls` calls functions of the same module by symbol instead of
/// through their slots, so a redefinition does not reach those callers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unchecked {
    /// No bounds checks on array indexing.
    pub bounds: bool,
    /// No division-by-zero checks (and `i64::MIN / -1` is undefined).
    pub division: bool,
    /// No stack-depth checks on calls.
    pub stack: bool,
    /// Calls between functions go straight to their symbols, not through slots (no late binding).
    pub direct_calls: bool,
}

/// Generates the module defining `func` as `symbol`.
pub fn generate_function(
    func: &tir::Function,
    symbol: &str,
    callees: &dyn Callees,
    options: Options,
    triple: &CStr,
    data_layout: &CStr,
) -> IrModule {
    let module = IrModule::new(symbol, triple, data_layout);
    {
        // Finalised at the end of this block, before the module is verified.
        let debug = options.debug_info.then(|| module.debug_info(func.source.name()));
        FnCodegen::emit(&module, func, symbol, Body::Function, callees, inline::Budget::per_function(), options, debug.as_ref());
    }
    debug_assert_eq!(module.verify(), Ok(()), "invalid IR for `{}`:\n{}", func.name, module.print());
    module
}

/// Generates the top tier of hot `func`: the function as `abi::top_tier_symbol`
/// and, if it turned hot at loop `at_loop` of `tir::Function::osr_loops`, an
/// entry there and the table of entries (`abi::osr_table`); `true` with the table.
pub fn generate_top_tier(
    func: &tir::Function,
    at_loop: Option<usize>,
    callees: &dyn Callees,
    options: Options,
    triple: &CStr,
    data_layout: &CStr,
) -> (IrModule, bool) {
    let symbol = crate::abi::top_tier_symbol(&func.name);
    let module = IrModule::new(&symbol, triple, data_layout);
    let loops = func.osr_loops();
    let entry = at_loop.and_then(|i| Some((i, *loops.get(i)?)));
    {
        let debug = options.debug_info.then(|| module.debug_info(func.source.name()));
        let emit = |symbol: &str, body| {
            FnCodegen::emit(&module, func, symbol, body, callees, inline::Budget::per_function(), options, debug.as_ref())
        };
        emit(&symbol, Body::Function);
        if let Some((index, at)) = entry {
            let mut table = vec![module.external_global(&crate::abi::definition_symbol(&func.name))];
            table.extend(loops.iter().map(|_| module.const_null(module.ptr())));
            table[1 + index] = emit(&crate::abi::osr_entry_symbol(&func.name, index), Body::LoopEntry(at)).value;
            module.address_table(&crate::abi::osr_table_symbol(&func.name), &table);
        }
    }
    debug_assert_eq!(module.verify(), Ok(()), "invalid IR for the top tier of `{}`:\n{}", func.name, module.print());
    (module, entry.is_some())
}

/// Declares a runtime function with the signature `abi`'s table gives it.
pub(crate) fn declare_runtime<'m>(m: &'m IrModule, f: RuntimeFn) -> Function<'m> {
    let ty = |t: AbiType| match t {
        AbiType::Ctx | AbiType::Str | AbiType::Array | AbiType::Code | AbiType::Closure | AbiType::Slots => m.ptr(),
        AbiType::I64 => m.i64(),
        AbiType::F64 => m.f64(),
        AbiType::Void => m.void(),
    };
    let params: Vec<Type<'m>> = f.params().iter().map(|&t| ty(t)).collect();
    let declared = m.declare(f.symbol(), m.fn_type(ty(f.ret()), &params));
    if matches!(f, RuntimeFn::Trap | RuntimeFn::Frame | RuntimeFn::TierUp) {
        // Only error paths (and a function's one tier-up) call them.
        m.add_fn_attribute(declared, "cold");
    }
    declared
}
