//! The engine: the embedding API over the lazy ORC pipeline.
//!
//! Adding a module parses and checks it, then defines each function in the JIT as
//! a lazy entry point (`ore.f`) over a custom materialization unit for its body
//! (`ore.f.body`). Nothing else happens until a call: the first call through
//! `ore.f` looks up `ore.f.body`, which runs `Inner::materialize`: IR generation,
//! the IR transform layer (optimisation), code generation, linking.
//!
//! Locks: `namespace` (RwLock) guards the symbol tables; `trampolines` and
//! `compile` (Mutex) serialise trampoline creation and LLVM code generation
//! (LLJIT's default compiler owns one TargetMachine, which is not thread-safe).
//! No lock is held while JIT'd code runs: `call` copies what it needs and releases
//! the namespace lock first, so JIT'd code may re-enter the engine (a host callback
//! calling `call`) and lazy compilation may happen on any calling thread.

use crate::codegen;
use crate::diagnostics::{CompileError, SourceFile};
use crate::llvm::orc::{Dylib, Jit, MaterializationResponsibility, ModuleView};
use crate::llvm::LlvmError;
use crate::runtime::{self, format::python_repr, HostCall, RuntimeError};
use crate::syntax;
use crate::tir;
use crate::typeck::{self, Environment, SymbolStatus};
use crate::types::{CType, ExternSig, FnSig, Ty};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Optimisation level of the per-function pipeline (LLVM's `default<On>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptLevel(u8);

impl OptLevel {
    pub const O0: OptLevel = OptLevel(0);
    pub const O1: OptLevel = OptLevel(1);
    pub const O2: OptLevel = OptLevel(2);
    pub const O3: OptLevel = OptLevel(3);

    pub fn new(level: u8) -> Option<OptLevel> {
        (level <= 3).then_some(OptLevel(level))
    }

    pub fn level(self) -> u8 {
        self.0
    }
}

/// `O2`: a function is compiled once, at its first call, and then runs for the rest
/// of the process; at O2 that one compile of a small function stays well under a
/// millisecond while the code is much faster than at O0/O1 (docs/ARCHITECTURE.md).
impl Default for OptLevel {
    fn default() -> Self {
        OptLevel::O2
    }
}

/// What to dump, to standard error, for every module the JIT compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// LLVM IR after optimisation.
    Ir,
    /// Host assembly.
    Asm,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub opt_level: OptLevel,
    /// Compile every function when its module is added instead of at first call.
    pub eager: bool,
    pub emit: Option<Emit>,
}

/// A value passed to or returned from Ore code.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Unit,
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
    Ptr(usize),
    ArrayI64(Vec<i64>),
    ArrayF64(Vec<f64>),
}

impl Value {
    pub fn ty(&self) -> Ty {
        match self {
            Value::Unit => Ty::Unit,
            Value::I64(_) => Ty::I64,
            Value::F64(_) => Ty::F64,
            Value::Bool(_) => Ty::Bool,
            Value::Str(_) => Ty::Str,
            Value::Ptr(_) => Ty::Ptr,
            Value::ArrayI64(_) => Ty::ArrayI64,
            Value::ArrayF64(_) => Ty::ArrayF64,
        }
    }
}

/// Formats as Ore's `print` does.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("()"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => f.write_str(&python_repr(*v)),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(s) => f.write_str(s),
            Value::Ptr(p) => write!(f, "{p:#x}"),
            Value::ArrayI64(v) => write!(f, "{v:?}"),
            Value::ArrayF64(v) => {
                let items: Vec<String> = v.iter().map(|x| python_repr(*x)).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Compile(#[from] CompileError),
    #[error("runtime error: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("no function named `{0}`")]
    UnknownFunction(String),
    #[error("`{name}` takes {expected} argument(s), but {given} were given")]
    Arity { name: String, expected: usize, given: usize },
    #[error("argument {index} of `{name}` must be `{expected}`, not `{given}`")]
    ArgumentType { name: String, index: usize, expected: Ty, given: Ty },
    #[error("host function `{0}` is already registered")]
    HostFunctionExists(String),
    #[error("JIT error: {0}")]
    Jit(#[from] LlvmError),
}

/// Counters since the engine was created; times in microseconds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Ore functions defined.
    pub functions: u64,
    /// Ore functions compiled (materialised).
    pub compiled: u64,
    pub parse_us: u64,
    pub check_us: u64,
    /// IR generation, inside materialisations.
    pub irgen_us: u64,
    /// Optimisation, code generation and linking: materialisations minus IR generation.
    pub compile_us: u64,
    /// Time in calls from the host, minus the compilation that happened inside them.
    pub run_us: u64,
}

#[derive(Default)]
struct Counters {
    functions: AtomicU64,
    compiled: AtomicU64,
    parse_us: AtomicU64,
    check_us: AtomicU64,
    irgen_us: AtomicU64,
    compile_us: AtomicU64,
    run_us: AtomicU64,
}

/// Per-function state shared with its materializer.
#[derive(Default)]
struct FunctionState {
    compiled: AtomicBool,
    /// Address of the lazy entry point, once looked up.
    entry: AtomicUsize,
}

struct FunctionEntry {
    sig: FnSig,
    defined: bool,
    state: Arc<FunctionState>,
}

#[derive(Default)]
struct Namespace {
    functions: HashMap<String, FunctionEntry>,
    externs: HashMap<String, ExternSig>,
}

/// A module that was added: what it defines and declares.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleInfo {
    pub functions: Vec<(String, FnSig)>,
}

struct Inner {
    /// Dropped last among the fields that matter: materializers hold only a Weak.
    jit: Jit,
    dylib: Dylib,
    config: Config,
    namespace: RwLock<Namespace>,
    host_functions: RwLock<HashMap<String, ExternSig>>,
    trampolines: Mutex<HashMap<FnSig, usize>>,
    compile: Mutex<()>,
    counters: Counters,
}

/// A JIT engine with one namespace. `Send + Sync`: share it with `Arc` or clone it
/// (clones are handles to the same engine).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

impl Engine {
    pub fn new(config: Config) -> Result<Engine, Error> {
        let emit = config.emit;
        let level = config.opt_level.level();
        let transform = Box::new(move |module: ModuleView<'_>| {
            let name = module.name();
            // Entry trampolines are a few loads and one call: nothing to optimise.
            if name.starts_with(codegen::TRAMPOLINE_PREFIX) {
                return Ok(());
            }
            let _span = tracing::trace_span!("optimize", module = %name, level).entered();
            module.optimize(level)?;
            if let Some(kind) = emit {
                dump(&module, &name, kind);
            }
            Ok(())
        });
        let jit = Jit::new(level, transform, runtime::lazy_call_failed_handler())?;
        let dylib = jit.main_dylib();
        jit.add_process_symbols(dylib)?;
        jit.define_absolute(dylib, &runtime::symbols())?;
        let inner = Inner {
            jit,
            dylib,
            config,
            namespace: RwLock::default(),
            host_functions: RwLock::default(),
            trampolines: Mutex::default(),
            compile: Mutex::new(()),
            counters: Counters::default(),
        };
        Ok(Engine { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Compiles `source` as a module of this engine's namespace. Its functions are
    /// compiled at their first call (or now, with `Config::eager`).
    pub fn add_module(&self, name: &str, source: &str) -> Result<ModuleInfo, Error> {
        self.add(SourceFile::new(name, source.to_string()), false)
    }

    /// Like `add_module`, but also requires a `main` that `ore run` can call.
    pub fn add_program(&self, file: SourceFile) -> Result<ModuleInfo, Error> {
        self.add(file, true)
    }

    fn add(&self, file: SourceFile, require_main: bool) -> Result<ModuleInfo, Error> {
        let inner = &self.inner;
        let _span = tracing::debug_span!("add_module", module = file.name()).entered();
        let start = Instant::now();
        let items = {
            let _span = tracing::debug_span!("parse").entered();
            syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?
        };
        inner.counters.parse_us.fetch_add(micros(start), Relaxed);

        let start = Instant::now();
        // The write lock covers checking and defining, so two modules added at once
        // cannot both define the same name.
        let mut ns = inner.namespace.write();
        let checked = {
            let _span = tracing::debug_span!("check").entered();
            let env = NamespaceEnv { ns: &ns, host: &inner.host_functions.read() };
            typeck::check_module(&items, &env, &typeck::Options { require_main }).map_err(|d| file.error(d))?
        };
        inner.counters.check_us.fetch_add(micros(start), Relaxed);
        drop(items);

        for (name, sig) in &checked.externs {
            ns.externs.insert(name.clone(), sig.clone());
        }
        let mut defined = Vec::with_capacity(checked.functions.len());
        for func in checked.functions {
            let state = Arc::new(FunctionState::default());
            let entry = FunctionEntry { sig: func.sig.clone(), defined: true, state: state.clone() };
            ns.functions.insert(func.name.clone(), entry);
            defined.push(func.name.clone());
            inner.define_body(Arc::new(func), state, Arc::downgrade(&self.inner))?;
        }
        inner.jit.define_lazy_entries(inner.dylib, defined.iter().map(|n| (codegen::entry_symbol(n), codegen::body_symbol(n))))?;
        for (name, sig, _) in &checked.signatures {
            ns.functions.entry(name.clone()).or_insert_with(|| FunctionEntry {
                sig: sig.clone(),
                defined: false,
                state: Arc::default(),
            });
        }
        inner.counters.functions.fetch_add(defined.len() as u64, Relaxed);
        drop(ns);

        if inner.config.eager {
            for name in &defined {
                inner.jit.lookup(&codegen::body_symbol(name))?;
            }
        }
        let functions = checked.signatures.into_iter().map(|(n, s, _)| (n, s)).collect();
        Ok(ModuleInfo { functions })
    }

    /// The signature of a function of the namespace.
    pub fn function(&self, name: &str) -> Option<FnSig> {
        self.inner.namespace.read().functions.get(name).map(|f| f.sig.clone())
    }

    /// Whether `name` has been compiled.
    pub fn is_compiled(&self, name: &str) -> bool {
        let ns = self.inner.namespace.read();
        ns.functions.get(name).is_some_and(|f| f.state.compiled.load(Relaxed))
    }

    /// Registers a C-ABI function of the host under `name`, callable from Ore through
    /// `extern fn name(...)` in modules added afterwards.
    pub fn register<F: HostFn>(&self, name: &str, f: F) -> Result<(), Error> {
        // SAFETY: `HostFn` is implemented only for `extern "C" fn` pointer types whose
        // parameter and result types map one-to-one to `F::signature()`.
        unsafe { self.register_raw(name, F::signature(), f.address()) }
    }

    /// Registers a host function by address and signature.
    ///
    /// # Safety
    /// `address` must be a function with the C calling convention and exactly the
    /// signature `sig` (see `CType`), callable from any thread for as long as the
    /// engine lives.
    pub unsafe fn register_raw(&self, name: &str, sig: ExternSig, address: usize) -> Result<(), Error> {
        let mut hosts = self.inner.host_functions.write();
        if hosts.contains_key(name) {
            return Err(Error::HostFunctionExists(name.to_string()));
        }
        self.inner.jit.define_absolute(self.inner.dylib, &[(name, address)])?;
        hosts.insert(name.to_string(), sig);
        Ok(())
    }

    /// Calls an Ore function. Runtime errors end the call and leave the engine usable.
    pub fn call(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        let inner = &self.inner;
        let (sig, state) = {
            let ns = inner.namespace.read();
            let f = ns.functions.get(name).ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
            (f.sig.clone(), f.state.clone())
        };
        check_arguments(name, &sig, args)?;
        let trampoline = inner.trampoline(&sig)?;
        let entry = match state.entry.load(Relaxed) {
            0 => {
                // Looking up the lazy entry point creates its stub; it compiles nothing.
                let addr = inner.jit.lookup(&codegen::entry_symbol(name))?;
                state.entry.store(addr, Relaxed);
                addr
            }
            addr => addr,
        };

        let _span = tracing::debug_span!("call", function = name).entered();
        let compile_before = inner.counters.irgen_us.load(Relaxed) + inner.counters.compile_us.load(Relaxed);
        let start = Instant::now();
        let call = HostCall::enter();
        // Strings passed as `str` must outlive the call.
        let mut strings = Vec::new();
        let mut slots = Vec::with_capacity(args.len());
        for arg in args {
            slots.push(match arg {
                Value::I64(v) => *v as u64,
                Value::F64(v) => v.to_bits(),
                Value::Bool(b) => *b as u64,
                Value::Ptr(p) => *p as u64,
                Value::Str(s) => {
                    strings.push(crate::llvm::c_string(s));
                    strings.last().expect("pushed above").as_ptr() as u64
                }
                Value::ArrayI64(v) => call.array(v.iter().copied())?,
                Value::ArrayF64(v) => call.array(v.iter().map(|x| x.to_bits() as i64))?,
                Value::Unit => unreachable!("check_arguments rejects unit arguments"),
            });
        }
        // SAFETY: the trampoline was generated for `sig`, the entry point is the
        // function `name` of that signature, and `slots` encodes `args` (checked
        // against `sig` above) as the trampoline reads them; `strings` outlive the call.
        let raw = unsafe { call.invoke(trampoline, entry, &slots) };
        let result = raw.map(|raw| {
            // SAFETY: `raw` is a value of type `sig.ret` produced by this call; arrays
            // and strings are still alive (arena and module memory).
            unsafe { decode(sig.ret, raw, &call) }
        });
        drop(call);
        let compile_after = inner.counters.irgen_us.load(Relaxed) + inner.counters.compile_us.load(Relaxed);
        let run = micros(start).saturating_sub(compile_after.saturating_sub(compile_before));
        inner.counters.run_us.fetch_add(run, Relaxed);
        Ok(result?)
    }

    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            functions: c.functions.load(Relaxed),
            compiled: c.compiled.load(Relaxed),
            parse_us: c.parse_us.load(Relaxed),
            check_us: c.check_us.load(Relaxed),
            irgen_us: c.irgen_us.load(Relaxed),
            compile_us: c.compile_us.load(Relaxed),
            run_us: c.run_us.load(Relaxed),
        }
    }
}

/// Parses and checks a program (`ore check`) without creating a JIT.
pub fn check_program(file: &SourceFile) -> Result<(), CompileError> {
    let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?;
    let ns = Namespace::default();
    let env = NamespaceEnv { ns: &ns, host: &HashMap::new() };
    typeck::check_module(&items, &env, &typeck::Options { require_main: true }).map_err(|d| file.error(d))?;
    Ok(())
}

fn check_arguments(name: &str, sig: &FnSig, args: &[Value]) -> Result<(), Error> {
    if args.len() != sig.params.len() {
        return Err(Error::Arity { name: name.to_string(), expected: sig.params.len(), given: args.len() });
    }
    for (index, (arg, expected)) in args.iter().zip(&sig.params).enumerate() {
        if arg.ty() != *expected {
            return Err(Error::ArgumentType { name: name.to_string(), index, expected: *expected, given: arg.ty() });
        }
    }
    Ok(())
}

/// # Safety
/// `raw` must be a value of type `ty` returned by JIT'd code during `call`.
unsafe fn decode(ty: Ty, raw: u64, call: &HostCall) -> Value {
    match ty {
        Ty::I64 => Value::I64(raw as i64),
        Ty::F64 => Value::F64(f64::from_bits(raw)),
        Ty::Bool => Value::Bool(raw != 0),
        Ty::Ptr => Value::Ptr(raw as usize),
        Ty::Str if raw == 0 => Value::Str(String::new()),
        Ty::Str => Value::Str(CStr::from_ptr(raw as *const c_char).to_string_lossy().into_owned()),
        Ty::ArrayI64 => Value::ArrayI64(call.read_array(raw)),
        Ty::ArrayF64 => Value::ArrayF64(call.read_array(raw).into_iter().map(|b| f64::from_bits(b as u64)).collect()),
        Ty::Unit | Ty::Never => Value::Unit,
    }
}

fn dump(module: &ModuleView<'_>, name: &str, kind: Emit) {
    let text = match kind {
        Emit::Ir => module.print(),
        Emit::Asm => module.assembly().unwrap_or_else(|e| format!("; assembly unavailable: {e}\n")),
    };
    let function = name.strip_prefix("ore.").and_then(|n| n.strip_suffix(".body")).unwrap_or(name);
    eprint!("; ---- {function} ----\n{text}");
}

impl Inner {
    /// Defines `ore.NAME.body` as a unit that generates and compiles `func` when first
    /// looked up. The lazy entry point over it is defined separately, in bulk.
    fn define_body(&self, func: Arc<tir::Function>, state: Arc<FunctionState>, me: Weak<Inner>) -> Result<(), Error> {
        let body = codegen::body_symbol(&func.name);
        let materializer = Box::new(move |mr: MaterializationResponsibility| {
            let Some(inner) = me.upgrade() else { return mr.fail() };
            // This runs on the stack of the JIT'd code that made the call, possibly
            // deep in a recursion: make sure LLVM has room.
            stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || inner.materialize(&func, &state, mr));
        });
        self.jit.define_materializer(self.dylib, &body, materializer)?;
        Ok(())
    }

    fn materialize(&self, func: &tir::Function, state: &FunctionState, mr: MaterializationResponsibility) {
        let _span = tracing::debug_span!("materialize", function = %func.name).entered();
        let start = Instant::now();
        let module = codegen::generate_function(func, self.jit.triple(), self.jit.data_layout());
        let irgen = micros(start);
        {
            let _compile = self.compile.lock();
            self.jit.emit(mr, module.into_thread_safe_module());
        }
        let total = micros(start);
        state.compiled.store(true, Relaxed);
        self.counters.compiled.fetch_add(1, Relaxed);
        self.counters.irgen_us.fetch_add(irgen, Relaxed);
        self.counters.compile_us.fetch_add(total - irgen, Relaxed);
        tracing::debug!(function = %func.name, irgen_us = irgen, compile_us = total - irgen, "compiled");
    }

    /// The host-entry trampoline for `sig`, compiled on first use.
    fn trampoline(&self, sig: &FnSig) -> Result<usize, Error> {
        let mut cache = self.trampolines.lock();
        if let Some(addr) = cache.get(sig) {
            return Ok(*addr);
        }
        let module = codegen::generate_trampoline(sig, self.jit.triple(), self.jit.data_layout());
        self.jit.add_module(self.dylib, module.into_thread_safe_module())?;
        let addr = {
            let _compile = self.compile.lock();
            self.jit.lookup(&codegen::trampoline_symbol(sig))?
        };
        cache.insert(sig.clone(), addr);
        Ok(addr)
    }
}

/// The namespace as the checker sees it.
struct NamespaceEnv<'a> {
    ns: &'a Namespace,
    host: &'a HashMap<String, ExternSig>,
}

impl Environment for NamespaceEnv<'_> {
    fn function(&self, name: &str) -> Option<(FnSig, bool)> {
        self.ns.functions.get(name).map(|f| (f.sig.clone(), f.defined))
    }

    fn extern_fn(&self, name: &str) -> Option<ExternSig> {
        self.ns.externs.get(name).cloned()
    }

    fn resolve_symbol(&self, name: &str) -> SymbolStatus {
        if let Some(sig) = self.host.get(name) {
            return SymbolStatus::Host(sig.clone());
        }
        let cname = crate::llvm::c_string(name);
        // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded objects' symbol tables.
        let found = unsafe { !libc::dlsym(libc::RTLD_DEFAULT, cname.as_ptr()).is_null() };
        if found {
            SymbolStatus::Process
        } else {
            SymbolStatus::Missing
        }
    }
}

// ---- typed host functions ----

/// A Rust type that crosses the C boundary as one of `CType`'s parameter types.
pub trait HostParam {
    const C_TYPE: CType;
}

/// A Rust type that crosses the C boundary as a result.
pub trait HostResult {
    const C_TYPE: CType;
}

macro_rules! host_types {
    ($($t:ty => $c:ident),*) => {$(
        impl HostParam for $t { const C_TYPE: CType = CType::$c; }
        impl HostResult for $t { const C_TYPE: CType = CType::$c; }
    )*};
}
host_types!(i64 => I64, i32 => I32, f64 => F64, bool => Bool, *const c_char => Str, *mut c_void => Ptr);

impl HostResult for () {
    const C_TYPE: CType = CType::Unit;
}

/// An `extern "C" fn` the engine can register (see `Engine::register`).
pub trait HostFn {
    fn signature() -> ExternSig;
    fn address(self) -> usize;
}

macro_rules! host_fn {
    ($($p:ident),*) => {
        impl<R: HostResult, $($p: HostParam),*> HostFn for extern "C" fn($($p),*) -> R {
            fn signature() -> ExternSig {
                ExternSig { params: vec![$($p::C_TYPE),*], ret: R::C_TYPE }
            }
            fn address(self) -> usize {
                self as *const () as usize
            }
        }
    };
}
host_fn!();
host_fn!(A);
host_fn!(A, B);
host_fn!(A, B, C);
host_fn!(A, B, C, D);
host_fn!(A, B, C, D, E);
host_fn!(A, B, C, D, E, F);
