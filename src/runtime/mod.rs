//! The host side of the ABI between Rust and JIT'd code: the per-call context every
//! Ore function receives, the runtime functions Ore code calls (traps, arrays,
//! print), and the entry path from the host into JIT'd code.
//!
//! Runtime errors use a checked flag, not unwinding: a runtime function that fails
//! stores the error in the `CallCtx` and sets `trapped`; generated code checks the
//! flag after every call that can fail and returns at once, so control comes back
//! through every frame normally. No frame is skipped, so host frames in between
//! (a callback that re-enters the JIT) see an ordinary return, and each host call
//! has its own context: an error in an inner call ends that call only.

mod arena;
pub mod deadline;
pub mod format;
pub mod output;
pub mod perf;
pub mod process;
#[cfg_attr(not(feature = "python"), path = "python_stub.rs")]
pub mod python;
pub mod python_values;
pub mod trace;

use crate::abi::{self, RuntimeFn};
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Instant;

pub use arena::{process_bytes as process_array_bytes, set_process_limit as set_process_array_limit, MAX_ARRAY_LEN};
use trace::{Failure, Trace};

/// The context passed as the hidden first argument of every Ore function.
/// Generated code reads `trapped`, `interrupt` and `stack_limit` only, at the
/// offsets `abi::ctx` gives.
///
/// Rust code only ever holds `&CallCtx`, never `&mut`: the watchdog thread may
/// store to `interrupt` at any time, so the fields this thread changes are cells.
#[repr(C)]
pub struct CallCtx<'h> {
    /// `Cell<u32>` has `u32`'s layout; generated code reads it as one.
    trapped: Cell<u32>,
    /// Set to 1 by the deadline watchdog, from another thread.
    interrupt: AtomicU32,
    stack_limit: usize,
    /// Written by generated code only (`abi::ctx::SITE`), read by `ore.rt.frame`.
    site: Cell<i64>,
    error: Cell<Option<RuntimeError>>,
    /// The frames the error has returned through so far (`trace`).
    trace: RefCell<Trace>,
    /// The engine that made the call, for `load` and for resolving empty slots.
    host: &'h dyn RuntimeHost,
}

/// What runtime functions need from the engine that called into JIT'd code.
pub trait RuntimeHost {
    /// Compiles `source` into the calling namespace; `false` (with diagnostics on
    /// stderr) if it does not compile.
    fn load(&self, source: &str) -> bool;
    /// The address of the current definition of Ore function `name`, compiling it
    /// if needed (and filling its slot), or why there is none.
    fn resolve(&self, name: &str) -> Result<usize, RuntimeError>;
    /// The address of LLVM IR function `symbol` if a module defines it now, or why
    /// there is none.
    fn resolve_extern(&self, symbol: &str) -> Result<usize, RuntimeError>;
    /// Tier-0 code of Ore function `name` is hot, at the loop of index `at_loop`
    /// if any (`abi::osr_table`): queue its top tier's compile.
    fn tier_up(&self, name: &str, at_loop: Option<usize>);
    /// A call of Ore function `name` moved from tier 0 into its top tier at a loop.
    fn osr_entered(&self, name: &str);
}

const _: () = assert!(std::mem::offset_of!(CallCtx, trapped) == abi::ctx::TRAPPED as usize);
const _: () = assert!(std::mem::offset_of!(CallCtx, interrupt) == abi::ctx::INTERRUPT as usize);
const _: () = assert!(std::mem::offset_of!(CallCtx, stack_limit) == abi::ctx::STACK_LIMIT as usize);
const _: () = assert!(std::mem::offset_of!(CallCtx, site) == abi::ctx::SITE as usize);

/// An error that ends a call from the host; messages are LANGUAGE.md's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// Integer division or remainder by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// An array index outside the array.
    #[error("index out of bounds: index {index}, length {len}")]
    IndexOutOfBounds {
        /// The index used.
        index: i64,
        /// The array's length.
        len: i64,
    },
    /// `array(n, ...)` with a negative `n`.
    #[error("negative array length: {0}")]
    NegativeArrayLength(i64),
    /// An array larger than `MAX_ARRAY_LEN` or than memory allows.
    #[error("out of memory: cannot allocate an array of {0} elements")]
    OutOfMemory(i64),
    /// The call's arrays would take more than its limit (`CallOptions::max_array_bytes`).
    #[error("memory limit exceeded: cannot allocate an array of {0} elements")]
    MemoryLimit(i64),
    /// The call ran `load` more often than its limit (`CallOptions::max_loads`).
    #[error("load limit exceeded: a call may load at most {0} modules")]
    LoadLimit(u32),
    /// The call ran past its deadline (`CallOptions::timeout`).
    #[error("timeout: the call ran past its deadline")]
    Timeout,
    /// The call's `CallOptions::interrupt` was triggered.
    #[error("interrupted")]
    Interrupted,
    /// Recursion ran out of stack.
    #[error("stack overflow")]
    StackOverflow,
    /// A call of a function that has no definition (declared only, or unloaded).
    #[error("undefined function {0}")]
    UndefinedFunction(String),
    /// A NULL `str` (a C function's result, such as `getenv` of an unset variable)
    /// passed where text is needed: names the built-in or host function.
    #[error("null string passed to {0}")]
    NullString(String),
    /// A registered host closure panicked; the call ends, the engine stays usable.
    #[error("host function `{function}` panicked: {message}")]
    HostPanic {
        /// The host function.
        function: String,
        /// The panic's message.
        message: String,
    },
    /// A registered host function returned `Err`: its message.
    #[error("host function `{function}` failed: {message}")]
    HostError {
        /// The host function.
        function: String,
        /// Its `Err`, displayed.
        message: String,
    },
    /// A Python exception, or a result that does not convert: `TYPE: MESSAGE`.
    #[error("python: {0}")]
    Python(String),
    /// A failure of Ore itself (an IR function that could not be compiled, say).
    #[error("internal error: {0}")]
    Internal(String),
}

impl CallCtx<'_> {
    fn raise(&self, error: RuntimeError) {
        // The first error wins: later ones happen while unwinding from it.
        let first = self.error.take().unwrap_or(error);
        self.error.set(Some(first));
        self.trapped.set(1);
    }
}

// ---- runtime functions called by generated code ----

// Each takes the context as `&CallCtx`: generated code passes on the pointer its
// function received, which `HostCall::invoke` made from a context that outlives
// the whole call and that is only ever read through `&CallCtx` (see `rust_type!`).

/// Adds the frame of the Ore function `names` describes (`abi::frame_names`) to
/// the trace, as the error returns through it from `site` (`abi::site`).
extern "C" fn ore_rt_frame(ctx: &CallCtx, names: *const c_char) {
    trace::record(&ctx.trace, || frame_names(names), ctx.site.get());
}

/// The function and module names `abi::frame_names` packed.
fn frame_names(names: *const c_char) -> (String, String) {
    // SAFETY: codegen emits the names as a literal `function NUL module NUL`, so
    // both strings are terminated, the second right after the first's NUL.
    let (function, module) = unsafe {
        let function = CStr::from_ptr(names);
        (function, CStr::from_ptr(names.add(function.to_bytes_with_nul().len())))
    };
    (function.to_string_lossy().into_owned(), module.to_string_lossy().into_owned())
}

extern "C" fn ore_rt_trap(ctx: &CallCtx, code: i64, a: i64, b: i64, names: *const c_char, site: i64) {
    let error = match code {
        abi::trap::DIVISION_BY_ZERO => RuntimeError::DivisionByZero,
        abi::trap::INDEX_OUT_OF_BOUNDS => RuntimeError::IndexOutOfBounds { index: a, len: b },
        abi::trap::STACK_OVERFLOW => RuntimeError::StackOverflow,
        abi::trap::TIMEOUT => RuntimeError::Timeout,
        other => RuntimeError::Internal(format!("unknown trap code {other}")),
    };
    ctx.raise(error);
    trace::record(&ctx.trace, || frame_names(names), site);
}

/// Allocates `[fill; len]` (fill is the element's bit pattern) in the call's arena.
/// Returns null after raising an error.
extern "C" fn ore_rt_array_new(ctx: &CallCtx, len: i64, fill: i64) -> *mut i64 {
    match arena::alloc_filled(len, fill) {
        Ok(ptr) => ptr,
        Err(e) => {
            ctx.raise(e);
            std::ptr::null_mut()
        }
    }
}

extern "C" fn ore_rt_arena_mark(_ctx: &CallCtx) -> i64 {
    arena::mark() as i64
}

extern "C" fn ore_rt_arena_release(_ctx: &CallCtx, mark: i64) {
    arena::release(mark as usize)
}

extern "C" fn ore_rt_print_i64(_ctx: &CallCtx, v: i64) {
    output::print_line(v.to_string().as_bytes());
}

extern "C" fn ore_rt_print_f64(_ctx: &CallCtx, v: f64) {
    output::print_line(format::python_repr(v).as_bytes());
}

extern "C" fn ore_rt_print_bool(_ctx: &CallCtx, v: i64) {
    output::print_line(if v != 0 { b"true" } else { b"false" });
}

extern "C" fn ore_rt_print_str(_ctx: &CallCtx, s: *const c_char) {
    // SAFETY: Ore `str` values are NUL-terminated: literals are emitted with a NUL,
    // and C functions returning `str` promise one.
    let bytes = if s.is_null() { &b"(null)"[..] } else { unsafe { CStr::from_ptr(s) }.to_bytes() };
    output::print_line(bytes);
}

/// Called for a function whose slot is empty: the code to call (compiled now if
/// needed), or null after raising `undefined function NAME` or a compile failure.
extern "C" fn ore_rt_resolve(ctx: &CallCtx, name: *const c_char) -> usize {
    resolve_with(ctx, |host| host.resolve(&text(name)))
}

/// Called for an LLVM IR function whose slot is empty: its code, or null after
/// raising `undefined function NAME`.
extern "C" fn ore_rt_resolve_extern(ctx: &CallCtx, name: *const c_char) -> usize {
    resolve_with(ctx, |host| host.resolve_extern(&text(name)))
}

/// Called once by tier-0 code whose call countdown reached 0; returns at once
/// (the compile runs in the background).
extern "C" fn ore_rt_tier_up(ctx: &CallCtx, name: *const c_char, at_loop: i64) {
    ctx.host.tier_up(&text(name), usize::try_from(at_loop).ok())
}

/// Called by tier-0 code as it moves its call into the top tier at a loop.
extern "C" fn ore_rt_osr_entered(ctx: &CallCtx, name: *const c_char) {
    ctx.host.osr_entered(&text(name))
}

/// The address `resolve` finds, or, after raising why there is none,
/// `unresolved`'s.
fn resolve_with(ctx: &CallCtx, resolve: impl FnOnce(&dyn RuntimeHost) -> Result<usize, RuntimeError>) -> usize {
    // No lock is held while JIT'd code runs, so the engine may take its own here.
    resolve(ctx.host).unwrap_or_else(|e| {
        ctx.raise(e);
        unresolved as extern "C" fn() -> u64 as usize
    })
}

/// What a call whose callee could not be resolved calls instead, so the call
/// site needs no test of its own: generated code calls it with the arguments and
/// the C convention of the function it wanted, which x86-64's and AArch64's C
/// conventions let a callee ignore (the caller owns their registers and stack
/// space); the result (0, or whatever a floating-point register holds) is never
/// used, as the caller's test of `ctx::TRAPPED` comes first.
extern "C" fn unresolved() -> u64 {
    0
}

thread_local! {
    /// `load`s the outermost host call on this thread may still run, and its limit.
    static LOADS: std::cell::Cell<(u32, u32)> = const { std::cell::Cell::new((u32::MAX, u32::MAX)) };
}

/// `load(src)`: compiles more code into the namespace while the caller runs.
extern "C" fn ore_rt_load(ctx: &CallCtx, source: *const c_char) -> i64 {
    let source = match str_arg(source, "load") {
        Ok(source) => source,
        Err(e) => return settle(ctx, Err(e)),
    };
    // Code that `load` replaces is freed only after the outermost call ends, so
    // without a bound one call could fill memory with replaced code.
    let (left, limit) = LOADS.with(|l| l.get());
    if left == 0 {
        return settle(ctx, Err(RuntimeError::LoadLimit(limit)));
    }
    LOADS.with(|l| l.set((left - 1, limit)));
    // No lock is held while JIT'd code runs, so the engine may take its own here.
    let host = ctx.host;
    host.load(&source) as i64
}

/// A Rust closure registered as a host function: arguments and result as 8-byte
/// slots (see `codegen::generate_closure_thunk`).
pub struct HostClosure {
    /// The name it is registered under, for errors.
    pub name: String,
    pub arity: usize,
    pub call: Box<SlotFn>,
}

/// A function over 8-byte argument slots returning the result's bits, or the
/// message of its `Err`.
pub type SlotFn = dyn Fn(&[u64]) -> Result<u64, String> + Send + Sync;

/// Runs a host closure for its JIT'd thunk.
extern "C" fn ore_rt_call_closure(closure: *const HostClosure, slots: *const u64) -> i64 {
    // SAFETY: `closure` is a HostClosure the engine keeps alive (boxed, never moved)
    // as long as its thunk exists, and the thunk passes `arity` slots.
    let closure = unsafe { &*closure };
    // SAFETY: as above: `slots` points at `arity` initialised slots.
    let args = unsafe { std::slice::from_raw_parts(slots, closure.arity) };
    // A panic must not unwind into JIT'd code: it ends the Ore call with an error,
    // raised in the context of the host call running on this thread. Generated code
    // tests `trapped` after every call to a registered host function.
    let run = || {
        let function = || closure.name.clone();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (closure.call)(args))) {
            Ok(Ok(bits)) => Ok(bits as i64),
            Ok(Err(message)) => Err(RuntimeError::HostError { function: function(), message }),
            Err(payload) => {
                let message = match payload.downcast::<String>() {
                    Ok(s) => *s,
                    Err(payload) => payload.downcast_ref::<&str>().map_or("(no message)".to_string(), |s| s.to_string()),
                };
                Err(RuntimeError::HostPanic { function: function(), message })
            }
        }
    };
    let Some(ctx) = current_ctx() else {
        return run().unwrap_or_else(|error| {
            tracing::error!("{error} (outside any call from the host)");
            0
        });
    };
    settle(ctx, trace::across_host(&ctx.trace, &closure.name, run))
}

thread_local! {
    /// The context of the innermost host call running on this thread, for runtime
    /// code that is not passed one (host closures, through their thunks).
    static CURRENT_CTX: Cell<*const CallCtx<'static>> = const { Cell::new(std::ptr::null()) };
}

/// The context of the innermost host call on this thread, if any. Only runtime
/// functions called from JIT'd code use it, so that call outlives their use.
fn current_ctx<'a>() -> Option<&'a CallCtx<'a>> {
    let ctx = CURRENT_CTX.with(|c| c.get());
    // SAFETY: CURRENT_CTX is set by `HostCall::invoke` to a context that lives until
    // it restores the previous value, and the JIT'd code that called us is paused.
    (!ctx.is_null()).then(|| unsafe { &*ctx.cast::<CallCtx<'a>>() })
}

/// Copies a name literal emitted by codegen.
fn text(s: *const c_char) -> String {
    // SAFETY: codegen emits names as NUL-terminated literals.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// Copies an Ore `str` argument of the built-in `what`; NULL is an error.
fn str_arg(s: *const c_char, what: &str) -> Result<String, RuntimeError> {
    if s.is_null() {
        return Err(RuntimeError::NullString(what.to_string()));
    }
    // SAFETY: non-NULL Ore strings are NUL-terminated; see ore_rt_print_str.
    Ok(unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
}

/// Records `result`'s error in the context; returns the value (0 after an error).
fn settle(ctx: &CallCtx, result: Result<i64, RuntimeError>) -> i64 {
    result.unwrap_or_else(|e| {
        ctx.raise(e);
        0
    })
}

extern "C" fn ore_rt_py_exec(ctx: &CallCtx, code: *const c_char) {
    let result = str_arg(code, "py_exec").and_then(|code| trace::across_host(&ctx.trace, "py_exec", || python::exec(&code)));
    settle(ctx, result.map(|()| 0));
}

/// `py_eval_*`: `conversion` is an `abi::py_conversion` code; f64 results are bits, str
/// results pointers.
extern "C" fn ore_rt_py_eval(ctx: &CallCtx, expr: *const c_char, conversion: i64) -> i64 {
    let conversion = python_values::Conversion::from_code(conversion);
    let result = str_arg(expr, "py_eval").and_then(|expr| trace::across_host(&ctx.trace, "py_eval", || python::eval(&expr, conversion)));
    settle(ctx, result)
}

/// `py_call*`: up to four arguments, each a tag (`abi::py_arg`) and 64 bits.
#[allow(clippy::too_many_arguments)]
extern "C" fn ore_rt_py_call(
    ctx: &CallCtx,
    callable: *const c_char,
    count: i64,
    t0: i64,
    v0: i64,
    t1: i64,
    v1: i64,
    t2: i64,
    v2: i64,
    t3: i64,
    v3: i64,
    conversion: i64,
) -> i64 {
    let count = count.clamp(0, abi::MAX_PY_ARGS as i64) as usize;
    let tagged = [(t0, v0), (t1, v1), (t2, v2), (t3, v3)];
    if tagged[..count].iter().any(|&(t, v)| t == abi::py_arg::STR && v == 0) || callable.is_null() {
        return settle(ctx, Err(RuntimeError::NullString("py_call".into())));
    }
    let args = tagged.map(|(t, v)| match t {
        abi::py_arg::F64 => python_values::Arg::F64(f64::from_bits(v as u64)),
        abi::py_arg::BOOL => python_values::Arg::Bool(v != 0),
        // SAFETY: non-NULL (checked above) Ore strings are NUL-terminated (see
        // ore_rt_print_str) and live for the call.
        abi::py_arg::STR => python_values::Arg::Str(unsafe { CStr::from_ptr(v as *const c_char) }),
        _ => python_values::Arg::I64(v),
    });
    // SAFETY: non-NULL (checked above) and NUL-terminated, as every Ore string.
    let path = unsafe { CStr::from_ptr(callable) }.to_string_lossy();
    let conversion = python_values::Conversion::from_code(conversion);
    settle(ctx, trace::across_host(&ctx.trace, &path, || python::call(&path, &args[..count], conversion)))
}

thread_local! {
    /// Set when a lazy call on this thread could not compile its target; the host
    /// call running on the thread then ends with an error.
    static LAZY_CALL_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Where a lazy call lands if compiling its target failed. Only functions of LLVM
/// IR modules are called through lazy stubs, and their signatures are unknown here,
/// so this touches no argument: it returns 0 and flags the thread, and the host
/// call ends with an error when control comes back to it.
extern "C" fn ore_rt_lazy_call_failed() -> u64 {
    tracing::error!("a function of an LLVM IR module could not be compiled");
    LAZY_CALL_FAILED.with(|f| f.set(true));
    0
}

/// The address the lazy call-through manager jumps to when compiling fails.
pub fn lazy_call_failed_handler() -> usize {
    ore_rt_lazy_call_failed as *const () as usize
}

/// The Rust type each `abi::AbiType` is in this module's functions.
macro_rules! rust_type {
    // Generated code never passes anything but the context pointer it was given,
    // valid for the call and only read through shared references (`CallCtx`).
    (Ctx) => { &CallCtx<'_> };
    (Str) => { *const c_char };
    (Array) => { *mut i64 };
    (Code) => { usize };
    (Closure) => { *const HostClosure };
    (Slots) => { *const u64 };
    (I64) => { i64 };
    (F64) => { f64 };
    (Void) => { () };
}

macro_rules! define_address {
    ($($(#[$doc:meta])* $variant:ident $rust:ident $symbol:literal ($($param:ident),*) -> $ret:ident;)*) => {
        /// The address of a runtime function. Each cast spells out the Rust
        /// signature `abi`'s table gives, so a function that differs from it does
        /// not compile.
        pub fn address(f: RuntimeFn) -> usize {
            match f {
                $(RuntimeFn::$variant => ($rust as extern "C" fn($(rust_type!($param)),*) -> rust_type!($ret)) as usize,)*
            }
        }
    };
}

crate::for_each_runtime_function!(define_address);

/// The runtime's symbols, defined as absolute addresses in every JITDylib.
pub fn symbols() -> Vec<(&'static str, usize)> {
    RuntimeFn::ALL.iter().map(|&f| (f.symbol(), address(f))).collect()
}

// ---- entering JIT'd code ----

/// The signature of a generated entry trampoline: calls `function` with arguments
/// unpacked from 8-byte slots and stores the result in `ret`.
type Trampoline = unsafe extern "C" fn(function: usize, ctx: *mut CallCtx, args: *const u64, ret: *mut u64);

/// One call from the host into JIT'd code. Arrays created during it (by Ore code or
/// for arguments) live until the outermost `HostCall` on this thread ends.
pub struct HostCall {
    _not_send: PhantomData<*const ()>,
}

impl HostCall {
    /// Starts a call whose arrays may take `max_array_bytes` in all, and which may
    /// `load` `max_loads` modules (both counted for the outermost call on the thread,
    /// which nested calls share).
    pub fn enter(max_array_bytes: Option<u64>, max_loads: Option<u32>) -> HostCall {
        if arena::enter(max_array_bytes) {
            let limit = max_loads.unwrap_or(u32::MAX);
            LOADS.with(|l| l.set((limit, limit)));
        }
        HostCall { _not_send: PhantomData }
    }

    /// Copies an array argument into the arena; returns the Ore array pointer.
    pub fn array(&self, elements: impl ExactSizeIterator<Item = i64>) -> Result<u64, RuntimeError> {
        arena::alloc_from(elements).map(|p| p as u64)
    }

    /// An array argument whose `len` elements are the host's, at `data`.
    ///
    /// # Safety
    /// As `arena::lend`: Ore code may read and write the elements until this call
    /// ends, and nothing else may access them meanwhile.
    pub unsafe fn lend(&self, data: *mut i64, len: usize) -> Result<u64, RuntimeError> {
        // SAFETY: the caller's contract is `arena::lend`'s.
        unsafe { arena::lend(data, len) }.map(|p| p as u64)
    }

    /// Runs `function` through `trampoline` with a fresh context, interrupted at
    /// `deadline` (or the deadline of a call this one is nested in) if its code was
    /// compiled with interrupt checks.
    ///
    /// # Safety
    /// `trampoline` must be the entry trampoline generated for `function`'s exact
    /// signature, `args` must hold one slot per parameter encoded as the trampoline
    /// expects, and pointer arguments must stay valid for the call.
    pub unsafe fn invoke(
        &self,
        host: &dyn RuntimeHost,
        trampoline: usize,
        function: usize,
        args: &[u64],
        deadline: Option<Instant>,
        interrupt: Option<&Arc<deadline::Interrupt>>,
    ) -> Result<u64, Failure> {
        let ctx = CallCtx {
            trapped: Cell::new(0),
            interrupt: AtomicU32::new(0),
            stack_limit: stack::limit(),
            site: Cell::new(0),
            error: Cell::new(None),
            trace: RefCell::new(Trace::default()),
            host,
        };
        let mut ret = 0u64;
        // SAFETY: the caller guarantees `trampoline` is an entry trampoline, which
        // has this signature.
        let entry: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(trampoline) };
        {
            // One pointer for JIT'd code, the watchdog and host closures alike; it
            // is only ever read through as `&CallCtx` (see `CallCtx`). The guard is
            // dropped at the end of this block, while `ctx` lives.
            let ctx_ptr: *const CallCtx = &ctx;
            // SAFETY: `interrupt` lives until the guard is dropped, below.
            let _armed = deadline::effective(deadline).map(|d| unsafe { deadline::arm(&ctx.interrupt, d) });
            // SAFETY: as above.
            let _watched = interrupt.map(|i| unsafe { deadline::watch(&ctx.interrupt, i.clone()) });
            // The lifetime is erased only for the thread-local; it is restored to
            // the outer call's context before `ctx` dies.
            let outer = CURRENT_CTX.with(|c| c.replace(ctx_ptr.cast()));
            // SAFETY: the caller guarantees the trampoline, `function` and `args`
            // match; `ctx` and `ret` outlive the call.
            unsafe { entry(function, ctx_ptr.cast_mut(), args.as_ptr(), &mut ret) };
            CURRENT_CTX.with(|c| c.set(outer));
        }
        let error = match ctx.error.take() {
            Some(RuntimeError::Timeout) if interrupt.is_some_and(|i| i.is_triggered()) => RuntimeError::Interrupted,
            Some(e) => e,
            None if LAZY_CALL_FAILED.with(|f| f.replace(false)) => {
                RuntimeError::Internal("a function of an LLVM IR module could not be compiled (see the log)".into())
            }
            None => return Ok(ret),
        };
        let failure = Failure { error, trace: ctx.trace.take() };
        if current_ctx().is_some() {
            // A host function called us: it may pass the error on (`trace::across_host`).
            trace::leave_nested(&failure);
        }
        Err(failure)
    }

    /// Reads an Ore array returned by the call (valid until this HostCall ends).
    ///
    /// # Safety
    /// `ptr` must be an Ore array pointer produced during this host call.
    pub unsafe fn read_array(&self, ptr: u64) -> Vec<i64> {
        // SAFETY: the caller's contract is `arena::read`'s.
        unsafe { arena::read(ptr as *const i64) }
    }
}

impl Drop for HostCall {
    fn drop(&mut self) {
        arena::leave();
    }
}

mod stack {
    use std::cell::Cell;

    /// Room left below the limit for runtime functions, C library calls and the
    /// lazy-compilation path up to the materializer (which grows its own stack).
    const RESERVE: usize = 256 * 1024;

    thread_local! {
        static LIMIT: Cell<usize> = const { Cell::new(0) };
    }

    /// The lowest stack address JIT'd code may reach on this thread.
    pub fn limit() -> usize {
        LIMIT.with(|l| {
            if l.get() == 0 {
                l.set(compute());
            }
            l.get()
        })
    }

    fn compute() -> usize {
        // SAFETY: pthread_getattr_np fills `attr` for the calling thread; we destroy
        // it after reading the stack bounds.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
                let mut addr = std::ptr::null_mut();
                let mut size = 0;
                let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
                libc::pthread_attr_destroy(&mut attr);
                if ok && size > 2 * RESERVE {
                    return addr as usize + RESERVE;
                }
            }
        }
        // Unknown bounds: assume a conservative 1 MiB below the current frame.
        let here = 0u8;
        (&here as *const u8 as usize).saturating_sub(1024 * 1024)
    }
}
