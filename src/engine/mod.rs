//! The engine: the embedding API over the lazy ORC pipeline.
//!
//! Adding a module parses and checks it, then gives it a JITDylib of its own and,
//! for each function it defines, a new *version*: a custom materialization unit for
//! `ore.f.vN` (IR not generated yet), and empties the function's *slot*. Nothing
//! else happens until a call: a call that finds the slot empty asks `Inner::resolve`,
//! which looks the version up, running `Inner::materialize` on the calling thread
//! (IR generation, optimisation, code generation with the thread's own target
//! machine, linking), and stores the code's address in the slot.
//!
//! Slots make late binding work: code calls a function by loading its slot (whose
//! address never changes), so declarations can be called before any module defines
//! them, `load` can add definitions while callers run, and a redefinition is one
//! store that every caller, compiled or not, sees at its next call.
//!
//! A module's JITDylib holds its code and nothing else that lives longer, so
//! unloading it, or freeing it once all its functions were replaced, is clearing
//! the dylib (the C API cannot define a unit under a chosen resource tracker, and a
//! transfer away from a dylib's default tracker makes that tracker defunct). Cleared
//! dylibs are reused, since the C API cannot destroy one.
//!
//! Locks: `namespace` (RwLock) guards the symbol tables and is written while a
//! module is checked and defined. `slots` (Mutex) is read by materializers. Ore
//! functions compile under no engine-wide lock; `glue` serialises the glue code
//! LLJIT's own compiler builds (it owns one TargetMachine, which is not
//! thread-safe). Host-entry trampolines are shared by all engines (`trampolines`).
//! No lock is held while JIT'd code runs, so JIT'd code may load more code, compile
//! functions, and call host callbacks that re-enter the engine.

mod policy;
mod reclaim;
mod trampolines;
mod values;

pub use policy::{allow_list, known_signature, parse_signature, Policy, DEFAULT_EXTERN_ALLOW_LIST, KNOWN_C_FUNCTIONS};
pub use values::{ClosureParam, ClosureResult, HostFn, HostParam, HostResult, IntoHostClosure, Value};

use crate::codegen;
use crate::diagnostics::{CompileError, SourceFile};
use crate::llvm::orc::{Dylib, Jit, MaterializationResponsibility};
use crate::llvm::LlvmError;
use crate::runtime::{self, output, HostCall, RuntimeError, RuntimeHost};
use crate::syntax;
use crate::tir;
use crate::typeck::{self, Environment, ExistingFunction, SymbolStatus};
use crate::types::{ExternSig, FnSig, Ty};
use parking_lot::{Mutex, ReentrantMutex, RwLock};
use reclaim::Reclaimer;
use std::collections::HashMap;
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
/// of the process (see docs/ARCHITECTURE.md for the measurements behind this).
impl Default for OptLevel {
    fn default() -> Self {
        OptLevel::O2
    }
}

/// What to dump, to standard error, for every function the JIT compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// LLVM IR after optimisation.
    Ir,
    /// Host assembly.
    Asm,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The default for modules that do not choose their own (`add_module_at`).
    pub opt_level: OptLevel,
    /// Compile every function when its module is added instead of at first call.
    pub eager: bool,
    pub emit: Option<Emit>,
    /// Keep a `CompileRecord` of every compilation (see `Engine::compile_records`).
    pub profile: bool,
    /// Compile a deadline check into every function entry and loop back-edge, so that
    /// calls can be given a timeout (`CallOptions::timeout`).
    pub interruptible: bool,
    pub policy: Policy,
    pub limits: Limits,
    /// Safety checks to leave out, for measuring their cost only.
    pub unchecked: codegen::Unchecked,
    /// Run LLVM's verifier on every generated function before optimising it (the
    /// fuzz targets do): invalid IR then fails the compile with the verifier's
    /// message instead of being undefined behaviour in LLVM.
    pub verify_ir: bool,
}

/// Bounds on what modules may add; exceeding one is an error, not a crash.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes of source text in one module.
    pub max_source_bytes: usize,
    /// Nesting of expressions and blocks in one function (the parser's own bound is
    /// `syntax::MAX_NESTING`).
    pub max_nesting: u32,
    /// Ore function names (defined or declared) in the namespace.
    pub max_functions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_source_bytes: usize::MAX, max_nesting: syntax::MAX_NESTING, max_functions: usize::MAX }
    }
}

/// How one call from the host runs.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// Interrupt the call after this long: the runtime error `timeout`. Needs an
    /// engine with `Config::interruptible`.
    pub timeout: Option<std::time::Duration>,
    /// Capture up to this many bytes of what the call prints, instead of writing it
    /// to stdout (`CallReport::output`).
    pub capture_output: Option<usize>,
    /// Bytes all arrays of the call may take together; more is the runtime error
    /// `memory limit exceeded`.
    pub max_array_bytes: Option<u64>,
    /// Modules the call may add with `load` (code they replace is freed only when
    /// the call ends); more is the runtime error `load limit exceeded`.
    pub max_loads: Option<u32>,
}

/// What one call did.
#[derive(Debug)]
pub struct CallReport {
    pub result: Result<Value, Error>,
    /// With `CallOptions::capture_output`: what the call printed.
    pub output: Option<output::Captured>,
    /// Functions compiled on this call's thread during the call, in order.
    pub compiled: Vec<String>,
    pub elapsed: std::time::Duration,
}

/// Whether a function of the namespace has code, and which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionState {
    /// Declared, but no module defines it.
    Undefined,
    /// Defined, not compiled yet.
    Lazy,
    Compiled,
}

/// A function of the namespace, for listings.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionInfo {
    pub name: String,
    pub sig: FnSig,
    pub state: FunctionState,
    /// Time to compile the current definition (IR generation to linking).
    pub compile_us: u64,
    /// Calls from the host (`Engine::call`), all definitions together; calls made
    /// by Ore code are not counted.
    pub calls: u64,
}

/// Where the time of one function's compilation went, in microseconds. The split is
/// exact for lazy compilation; when ORC compiles several functions nested in one
/// another (eager mode), nested ones are attributed to the outermost.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CompileRecord {
    pub function: String,
    /// The optimisation level it was compiled at (0-3).
    pub opt_level: u8,
    pub irgen_us: u64,
    pub optimize_us: u64,
    pub codegen_us: u64,
    pub link_us: u64,
}

impl CompileRecord {
    pub fn total_us(&self) -> u64 {
        self.irgen_us + self.optimize_us + self.codegen_us + self.link_us
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
    #[error("no module {0:?} in this engine")]
    UnknownModule(ModuleId),
    /// A `Limits` bound or a `CallOptions` the engine cannot honour.
    #[error("{0}")]
    Limit(String),
    /// A shared library, object file or LLVM IR module that could not be used.
    #[error("{0}")]
    External(String),
    #[error("JIT error: {0}")]
    Jit(#[from] LlvmError),
}

/// Counters since the engine was created; times in microseconds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Ore function bodies added (each redefinition counts).
    pub functions: u64,
    /// Ore function bodies compiled (materialised).
    pub compiled: u64,
    pub parse_us: u64,
    pub check_us: u64,
    /// IR generation, inside materialisations.
    pub irgen_us: u64,
    /// Optimisation, code generation and linking: materialisations minus IR generation.
    pub compile_us: u64,
    /// Time in calls from the host, minus the compilation that happened inside them.
    pub run_us: u64,
    /// Bytes of object code produced (freed code included).
    pub code_bytes: u64,
    /// Compilations by total time (IR generation to linking): `compile_buckets[i]`
    /// took at most `COMPILE_BUCKETS_US[i]`; the last entry counts the rest.
    pub compile_buckets: Vec<u64>,
}

/// Upper bounds of the compile-time histogram's buckets, in microseconds.
pub const COMPILE_BUCKETS_US: [u64; 10] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000];

#[derive(Default)]
struct Counters {
    functions: AtomicU64,
    compiled: AtomicU64,
    parse_us: AtomicU64,
    check_us: AtomicU64,
    irgen_us: AtomicU64,
    compile_us: AtomicU64,
    run_us: AtomicU64,
    code_bytes: AtomicU64,
    compile_buckets: [AtomicU64; COMPILE_BUCKETS_US.len() + 1],
}

struct HostSymbol {
    /// Registered host functions have one; other symbols take the declaration's.
    sig: Option<ExternSig>,
    address: usize,
}

/// Identifies a module added to an engine (for `remove_module`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(u64);

/// A module that was added: its id and what it defines and declares.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleInfo {
    pub id: ModuleId,
    pub functions: Vec<(String, FnSig)>,
}

/// What every call to a function goes through. Owned by the engine and never freed
/// before it, because its address is baked into compiled code.
#[derive(Default)]
#[repr(C)]
struct Slot {
    /// The address to call; 0 while the current definition is not compiled (or
    /// there is none).
    code: AtomicUsize,
    /// The number of the current definition (0: none); inlined copies of the
    /// function check it (`abi::slot::DEFINITION`).
    definition: AtomicU64,
}

const _: () = assert!(std::mem::offset_of!(Slot, code) == crate::abi::slot::CODE);
const _: () = assert!(std::mem::offset_of!(Slot, definition) == crate::abi::slot::DEFINITION);

/// One definition of a function, by one module.
struct Version {
    symbol: String,
    /// Unique in the engine; what the slot's `definition` word holds while current.
    number: u64,
    /// Kept for callers in the same module to copy, if small enough.
    inline: Option<Arc<tir::Function>>,
    module: ModuleId,
    level: OptLevel,
    compiled: AtomicBool,
    /// IR generation to linking, once compiled.
    compile_us: AtomicU64,
}

struct FunctionEntry {
    sig: FnSig,
    /// Where the function was first declared or defined.
    origin: String,
    slot: Arc<Slot>,
    current: Option<Arc<Version>>,
    /// Calls from the host.
    calls: AtomicU64,
}

struct ModuleRecord {
    /// Holds all of the module's code.
    dylib: Dylib,
    /// Added by `load`: nobody can name it to remove it, so its record goes once
    /// all its functions are replaced.
    anonymous: bool,
    versions: Vec<(String, Arc<Version>)>,
    /// How many of `versions` are still the current definition; at 0 the code is
    /// retired.
    live: usize,
}

#[derive(Default)]
struct Namespace {
    functions: HashMap<String, FunctionEntry>,
    externs: HashMap<String, ExternSig>,
    modules: HashMap<ModuleId, ModuleRecord>,
}

/// `jit` is the last field: fields drop in declaration order, and whatever holds
/// materialization units (through their closures) goes before the session.
struct Inner {
    dylib: Dylib,
    config: Config,
    namespace: RwLock<Namespace>,
    /// Slot of every function name ever seen; only grows.
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// C symbols modules may call besides the process's: registered host functions
    /// (with their signature) and functions of added object files and IR modules.
    host_functions: RwLock<HashMap<String, HostSymbol>>,
    /// Cleared module dylibs, ready for reuse.
    spare_dylibs: Mutex<Vec<Dylib>>,
    /// Closures registered as host functions; boxed so their addresses, baked into
    /// their thunks, never change when the Vec grows. Freed with the engine.
    #[allow(clippy::vec_box)]
    closures: Mutex<Vec<Box<runtime::HostClosure>>>,
    /// Keeps threads out of LLJIT's own compiler (which owns one TargetMachine) one
    /// at a time: it compiles glue code (closure thunks, IR data), and may do so
    /// in place while an IR module's function is linked. Ore functions are compiled
    /// with per-thread target machines and do not take it. Reentrant: linking may
    /// run other pending materializations in place on the same thread.
    glue: ReentrantMutex<()>,
    reclaimer: Reclaimer<Dylib>,
    /// With `Config::profile`: every compilation, in order.
    compile_records: Mutex<Vec<CompileRecord>>,
    next_id: AtomicU64,
    counters: Counters,
    jit: Jit,
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

/// What was compiled on one thread during host calls: each call reports (and takes
/// out) what was added while it ran.
struct CompiledHere {
    /// Host calls running on this thread; nothing is recorded outside them.
    calls: usize,
    names: Vec<String>,
    total_us: u64,
}

thread_local! {
    static COMPILED_HERE: std::cell::RefCell<CompiledHere> = const {
        std::cell::RefCell::new(CompiledHere { calls: 0, names: Vec::new(), total_us: 0 })
    };
}

/// One host call's share of `COMPILED_HERE`; ends on drop too, so a panic cannot
/// leave the thread recording forever.
struct Recording {
    names_before: usize,
    us_before: u64,
    done: bool,
}

impl Recording {
    fn start() -> Recording {
        COMPILED_HERE.with(|h| {
            let mut h = h.borrow_mut();
            h.calls += 1;
            Recording { names_before: h.names.len(), us_before: h.total_us, done: false }
        })
    }

    /// The functions compiled during the call, and the time that took.
    fn finish(mut self) -> (Vec<String>, u64) {
        self.done = true;
        self.end()
    }

    fn end(&self) -> (Vec<String>, u64) {
        COMPILED_HERE.with(|h| {
            let mut h = h.borrow_mut();
            h.calls -= 1;
            let at = self.names_before.min(h.names.len());
            (h.names.split_off(at), h.total_us - self.us_before)
        })
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.done {
            self.end();
        }
    }
}

thread_local! {
    /// Microseconds spent in materializations nested inside the current one: ORC
    /// may run pending materializations in place while linking another.
    static NESTED_COMPILE_US: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Runs one materialization; returns the microseconds it took excluding any
/// materializations nested in it, so that nested ones are not counted twice.
fn exclusive_micros(f: impl FnOnce()) -> u64 {
    let outer = NESTED_COMPILE_US.with(|n| n.replace(0));
    let start = Instant::now();
    f();
    let total = micros(start);
    let nested = NESTED_COMPILE_US.with(|n| n.replace(outer + total));
    total.saturating_sub(nested)
}

impl Engine {
    pub fn new(config: Config) -> Result<Engine, Error> {
        let jit = Jit::new(config.opt_level.level(), runtime::lazy_call_failed_handler())?;
        // The main dylib holds what is never freed: closure thunks (which call the
        // runtime).
        let dylib = jit.main_dylib();
        jit.define_absolute(dylib, &runtime::symbols())?;
        let inner = Inner {
            jit,
            dylib,
            config,
            namespace: RwLock::default(),
            slots: Mutex::default(),
            host_functions: RwLock::default(),
            spare_dylibs: Mutex::default(),
            closures: Mutex::default(),
            glue: ReentrantMutex::new(()),
            reclaimer: Reclaimer::default(),
            compile_records: Mutex::default(),
            next_id: AtomicU64::new(1),
            counters: Counters::default(),
        };
        Ok(Engine { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Compiles `source` as a module of this engine's namespace. Its functions are
    /// compiled at their first call (or now, with `Config::eager`). A function the
    /// namespace already has (same signature) is replaced for every caller.
    pub fn add_module(&self, name: &str, source: &str) -> Result<ModuleInfo, Error> {
        self.add_module_at(name, source, self.inner.config.opt_level)
    }

    /// `add_module`, with the module's functions optimised and compiled at `level`.
    pub fn add_module_at(&self, name: &str, source: &str, level: OptLevel) -> Result<ModuleInfo, Error> {
        self.add(SourceFile::new(name, source.to_string()), false, level, false)
    }

    /// Like `add_module`, but also requires a `main` that `ore run` can call.
    pub fn add_program(&self, file: SourceFile) -> Result<ModuleInfo, Error> {
        self.add(file, true, self.inner.config.opt_level, false)
    }

    fn add(&self, file: SourceFile, require_main: bool, level: OptLevel, anonymous: bool) -> Result<ModuleInfo, Error> {
        let inner = &self.inner;
        let limits = &inner.config.limits;
        let _span = tracing::debug_span!("add_module", module = file.name()).entered();
        inner.check_source_size(file.name(), file.text().len())?;
        let start = Instant::now();
        let items = {
            let _span = tracing::debug_span!("parse").entered();
            let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?;
            syntax::check_nesting(&items, limits.max_nesting).map_err(|d| file.error(vec![d]))?;
            items
        };
        inner.counters.parse_us.fetch_add(micros(start), Relaxed);

        let start = Instant::now();
        let mut ns = inner.namespace.write();
        let checked = {
            let _span = tracing::debug_span!("check").entered();
            // Released at the end of this block: `module_dylib` reads it again below.
            let env = NamespaceEnv { ns: &ns, host: &inner.host_functions.read(), policy: &inner.config.policy };
            let options = typeck::Options { require_main, allow_python: inner.config.policy.python };
            typeck::check_module(&items, &env, &options).map_err(|d| file.error(d))?
        };
        inner.counters.check_us.fetch_add(micros(start), Relaxed);
        drop(items);
        if checked.uses_python {
            // Before any of the module's code can run.
            runtime::python::ensure_initialized();
        }

        let new_names = checked.signatures.iter().filter(|s| !ns.functions.contains_key(&s.name)).count();
        if ns.functions.len() + new_names > limits.max_functions {
            return Err(Error::Limit(format!(
                "{}: the namespace would hold {} functions, over the limit of {}",
                file.name(),
                ns.functions.len() + new_names,
                limits.max_functions
            )));
        }
        let id = ModuleId(inner.next_id.fetch_add(1, Relaxed));
        let mut new_externs = Vec::new();
        for (name, sig) in &checked.externs {
            if ns.externs.insert(name.clone(), sig.clone()).is_none() {
                new_externs.push(name);
            }
        }
        let mut entered = Vec::new();
        for s in &checked.signatures {
            if !ns.functions.contains_key(&s.name) {
                entered.push(s.name.clone());
                let (line, column) = file.location(s.span.start);
                let entry = FunctionEntry {
                    sig: s.sig.clone(),
                    origin: format!("{}:{line}:{column}", file.name()),
                    slot: inner.slot(&s.name),
                    current: None,
                    calls: AtomicU64::new(0),
                };
                ns.functions.insert(s.name.clone(), entry);
            }
        }
        let record = match inner.define_versions(id, level, checked.functions, &self.inner) {
            Ok(record) => ModuleRecord { anonymous, ..record },
            Err(e) => {
                // A module that fails changes nothing.
                new_externs.iter().for_each(|name| drop(ns.externs.remove(*name)));
                entered.iter().for_each(|name| drop(ns.functions.remove(name)));
                return Err(e);
            }
        };
        let defined: Vec<String> = record.versions.iter().map(|(name, _)| name.clone()).collect();
        let symbols: Vec<String> = record.versions.iter().map(|(_, v)| v.symbol.clone()).collect();
        let dylib = record.dylib;
        let retired = inner.install(&mut ns, id, record);
        drop(ns);
        inner.free(retired);

        if inner.config.eager && !symbols.is_empty() {
            // Counts as a running call, so a concurrent redefinition cannot free
            // the code being compiled here.
            let epoch = inner.reclaimer.enter();
            let compiled = inner.jit.lookup_all(dylib, &symbols).map_err(Error::from).and_then(|_| {
                // Fill the slots, so that even the first calls go straight to the code.
                defined.iter().try_for_each(|name| inner.resolve(name).map(drop).map_err(Error::from))
            });
            inner.free(inner.reclaimer.exit(epoch));
            compiled?;
        }
        let functions = checked.signatures.into_iter().map(|s| (s.name, s.sig)).collect();
        Ok(ModuleInfo { id, functions })
    }

    /// Unloads a module: the functions it currently defines become undefined (a
    /// call is the runtime error `undefined function NAME`), and its code is freed
    /// once no running call can be executing it.
    pub fn remove_module(&self, id: ModuleId) -> Result<(), Error> {
        let inner = &self.inner;
        let mut ns = inner.namespace.write();
        let record = ns.modules.remove(&id).ok_or(Error::UnknownModule(id))?;
        for (name, version) in &record.versions {
            if let Some(entry) = ns.functions.get_mut(name) {
                if entry.current.as_ref().is_some_and(|v| Arc::ptr_eq(v, version)) {
                    entry.current = None;
                    entry.slot.code.store(0, Relaxed);
                    entry.slot.definition.store(0, Relaxed);
                }
            }
        }
        // A module whose functions were all replaced was retired already.
        let free = if record.live > 0 { inner.reclaimer.retire(record.dylib) } else { Vec::new() };
        drop(ns);
        inner.free(free);
        Ok(())
    }

    /// Removes the current definition of `name`, as unloading its module would for
    /// this one function: calls are then the runtime error `undefined function NAME`
    /// until a module defines it again. Its code is freed once no call runs it.
    pub fn undefine(&self, name: &str) -> Result<(), Error> {
        let inner = &self.inner;
        let mut ns = inner.namespace.write();
        let entry = ns.functions.get_mut(name).ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
        let Some(old) = entry.current.take() else { return Ok(()) };
        entry.slot.code.store(0, Relaxed);
        entry.slot.definition.store(0, Relaxed);
        let free = inner.release(&mut ns, &old);
        drop(ns);
        inner.free(free);
        Ok(())
    }

    /// The signature of a function of the namespace.
    pub fn function(&self, name: &str) -> Option<FnSig> {
        self.inner.namespace.read().functions.get(name).map(|f| f.sig.clone())
    }

    /// Every `extern fn` the namespace's modules have declared, by name.
    pub fn externs(&self) -> Vec<(String, ExternSig)> {
        let mut list: Vec<_> = self.inner.namespace.read().externs.iter().map(|(n, s)| (n.clone(), s.clone())).collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Whether the current definition of `name` has been compiled.
    pub fn is_compiled(&self, name: &str) -> bool {
        let ns = self.inner.namespace.read();
        let current = ns.functions.get(name).and_then(|f| f.current.as_ref());
        current.is_some_and(|v| v.compiled.load(Relaxed))
    }

    /// Registers a C-ABI function of the host under `name`, callable from Ore through
    /// `extern fn name(...)` in modules added afterwards.
    pub fn register<F: HostFn>(&self, name: &str, f: F) -> Result<(), Error> {
        // SAFETY: `HostFn` is implemented only for `extern "C" fn` pointer types whose
        // parameter and result types map one-to-one to `F::signature()`.
        unsafe { self.register_raw(name, F::signature(), f.address()) }
    }

    /// Registers a Rust closure under `name`, callable from Ore through `extern fn`
    /// in modules added afterwards. Parameters may be `i64`, `f64`, `bool` or
    /// `String` (an Ore `str`, copied); the result `i64`, `f64`, `bool` or `()`. The
    /// closure may call back into the engine.
    pub fn register_closure<Params, R, F>(&self, name: &str, f: F) -> Result<(), Error>
    where
        F: IntoHostClosure<Params, R>,
    {
        let inner = &self.inner;
        if inner.host_functions.read().contains_key(name) {
            return Err(Error::HostFunctionExists(name.to_string()));
        }
        let sig = F::signature();
        let closure = Box::new(f.into_closure(name));
        let address = &*closure as *const runtime::HostClosure as usize;
        let thunk_name = crate::abi::closure_thunk_symbol(name);
        let module = codegen::generate_closure_thunk(&thunk_name, &sig, address, inner.jit.triple(), inner.jit.data_layout());
        inner.jit.add_module(inner.dylib, module.into_thread_safe_module())?;
        let thunk = {
            let _glue = inner.glue.lock();
            inner.jit.lookup(&thunk_name)?
        };
        inner.closures.lock().push(closure);
        // SAFETY: the thunk was generated for exactly `sig`, with the C convention,
        // and calls a closure the engine keeps alive as long as it lives.
        unsafe { self.register_raw(name, sig, thunk) }
    }

    /// Registers a host function by address and signature.
    ///
    /// # Safety
    /// `address` must be a function with the C calling convention and exactly the
    /// signature `sig` (see `CType`), callable from any thread for as long as the
    /// engine lives.
    pub unsafe fn register_raw(&self, name: &str, sig: ExternSig, address: usize) -> Result<(), Error> {
        // Modules added from now on get it in their dylibs; earlier ones cannot
        // refer to it (their `extern fn`s were checked when they were added).
        let mut hosts = self.inner.host_functions.write();
        if hosts.contains_key(name) {
            return Err(Error::HostFunctionExists(name.to_string()));
        }
        hosts.insert(name.to_string(), HostSymbol { sig: Some(sig), address });
        Ok(())
    }

    /// Loads a shared library (`dlopen`, global scope): its symbols become callable
    /// through `extern fn`. Libraries stay loaded for the life of the process, since
    /// compiled code may call into them.
    pub fn load_library(&self, path: &std::path::Path) -> Result<(), Error> {
        let cpath = crate::llvm::c_string(&path.to_string_lossy());
        // SAFETY: dlopen runs the library's initialisers, which is what loading a
        // library means; the handle is deliberately never closed (see above).
        let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            // SAFETY: dlerror returns a thread-local message after a failed dlopen.
            let reason = unsafe { std::ffi::CStr::from_ptr(libc::dlerror()) }.to_string_lossy().into_owned();
            return Err(Error::External(format!("cannot load library `{}`: {reason}", path.display())));
        }
        Ok(())
    }

    /// Adds a relocatable object file (`.o`); the functions it exports become
    /// callable through `extern fn` from modules added afterwards. Returns their names.
    pub fn add_object(&self, name: &str, bytes: &[u8]) -> Result<Vec<String>, Error> {
        let inner = &self.inner;
        let symbols =
            crate::llvm::orc::object_symbols(bytes).map_err(|e| Error::External(format!("`{name}` is not an object file: {e}")))?;
        let dylib = inner.external_dylib()?;
        inner.jit.add_object(dylib, bytes, name)?;
        // Looking each up links the object; local symbols are not found, and skipped.
        let found: Vec<(String, usize)> =
            symbols.into_iter().filter_map(|s| inner.jit.lookup_all(dylib, std::slice::from_ref(&s)).ok().map(|a| (s, a[0]))).collect();
        let names = found.iter().map(|(n, _)| n.clone()).collect();
        inner.add_host_symbols(found)?;
        Ok(names)
    }

    /// Adds an LLVM IR module, textual (`.ll`) or bitcode (`.bc`). Like Ore code, each
    /// of its functions is compiled at its first call; they become callable through
    /// `extern fn` from modules added afterwards. IR is trusted code: it is checked by
    /// LLVM's verifier, not by Ore. Returns the names of its functions.
    pub fn add_ir(&self, name: &str, bytes: &[u8]) -> Result<Vec<String>, Error> {
        let inner = &self.inner;
        inner.check_source_size(name, bytes.len())?;
        let (triple, layout) = (inner.jit.triple(), inner.jit.data_layout());
        let module = crate::llvm::ir::IrModule::parse(name, bytes, triple, layout).map_err(|e| Error::External(format!("{name}: {e}")))?;
        module.verify().map_err(|e| Error::External(format!("{name}: invalid IR: {e}")))?;
        // Ore's own symbols (the runtime, versions, thunks) resolve inside each
        // dylib: an IR definition of one would replace Ore's for later modules.
        if let Some(reserved) = module.global_names(true).into_iter().find(|n| n.starts_with(crate::abi::RESERVED_PREFIX)) {
            return Err(Error::External(format!(
                "{name}: `{reserved}` is a reserved name: IR modules may not define names starting with `{}`",
                crate::abi::RESERVED_PREFIX
            )));
        }
        // Python must be running before IR that calls the C-API does, as for Ore code.
        if let Some(py) = module.global_names(false).into_iter().find(|n| crate::abi::is_python_symbol(n)) {
            if !inner.config.policy.python {
                return Err(Error::External(format!("{name}: `{py}` is not allowed here: this engine does not allow Python")));
            }
            runtime::python::ensure_initialized();
        }
        let id = inner.next_id.fetch_add(1, Relaxed);
        module.externalize_locals(&format!(".ore{id}"));
        let functions = module.defined_functions();
        let bitcode: Arc<[u8]> = module.to_bitcode().into();
        let dylib = inner.external_dylib()?;
        if module.defines_data() {
            let data = crate::llvm::ir::IrModule::parse(name, &bitcode, triple, layout).map_err(Error::External)?;
            data.retain_only(None, "");
            inner.jit.add_module(dylib, data.into_thread_safe_module())?;
        }
        drop(module);
        let mut pairs = Vec::with_capacity(functions.len());
        for function in &functions {
            let body = format!("{function}.ore_body");
            inner.define_ir_body(dylib, name, function, &body, bitcode.clone(), Arc::downgrade(&self.inner))?;
            pairs.push((function.clone(), body));
        }
        inner.jit.define_lazy_entries(dylib, &pairs)?;
        inner.counters.functions.fetch_add(functions.len() as u64, Relaxed);
        // Creates the stubs only.
        let stubs = inner.jit.lookup_all(dylib, &functions)?;
        inner.add_host_symbols(functions.iter().cloned().zip(stubs).collect())?;
        Ok(functions)
    }

    /// Calls an Ore function. Runtime errors end the call and leave the engine usable.
    pub fn call(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        self.call_with(name, args, &CallOptions::default()).result
    }

    /// Calls an Ore function with a deadline, output capture or memory limit, and
    /// reports what the call compiled and how long it took.
    pub fn call_with(&self, name: &str, args: &[Value], options: &CallOptions) -> CallReport {
        let start = Instant::now();
        let recording = Recording::start();
        let (result, output) = match options.capture_output {
            Some(limit) => {
                let (result, captured) = output::capture(limit, || self.call_inner(name, args, options));
                (result, Some(captured))
            }
            None => (self.call_inner(name, args, options), None),
        };
        let (compiled, compile_us) = recording.finish();
        let elapsed = start.elapsed();
        let run_us = (elapsed.as_micros() as u64).saturating_sub(compile_us);
        self.inner.counters.run_us.fetch_add(run_us, Relaxed);
        CallReport { result, output, compiled, elapsed }
    }

    fn call_inner(&self, name: &str, args: &[Value], options: &CallOptions) -> Result<Value, Error> {
        let inner = &self.inner;
        if options.timeout.is_some() && !inner.config.interruptible {
            return Err(Error::Limit("a timeout needs an engine created with `Config::interruptible`".into()));
        }
        let (sig, slot) = {
            let ns = inner.namespace.read();
            let f = ns.functions.get(name).ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
            f.calls.fetch_add(1, Relaxed);
            (f.sig.clone(), f.slot.clone())
        };
        values::check_arguments(name, &sig, args)?;
        let trampoline = trampolines::get(&sig)?;

        let _span = tracing::debug_span!("call", function = name).entered();
        let deadline = options.timeout.map(|t| Instant::now() + t);
        let epoch = inner.reclaimer.enter();
        let result = self.invoke(name, &sig, &slot, trampoline, args, deadline, options);
        inner.free(inner.reclaimer.exit(epoch));
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &self,
        name: &str,
        sig: &FnSig,
        slot: &Slot,
        trampoline: usize,
        args: &[Value],
        deadline: Option<Instant>,
        options: &CallOptions,
    ) -> Result<Value, Error> {
        let call = HostCall::enter(options.max_array_bytes, options.max_loads);
        // Strings passed as `str` must outlive the call.
        let mut strings = Vec::new();
        let mut slots = Vec::with_capacity(args.len());
        for arg in args {
            slots.push(values::encode(arg, &call, &mut strings)?);
        }
        // Read after registering the call, so code it reaches cannot be freed under it.
        let function = match slot.code.load(Relaxed) {
            0 => self.inner.resolve(name)?,
            address => address,
        };
        // The deadline covers compiling: a compile that outlived it ends the call
        // (compiles inside the call are caught by the checks of the code they made).
        if runtime::deadline::effective(deadline).is_some_and(|d| Instant::now() >= d) {
            return Err(RuntimeError::Timeout.into());
        }
        // SAFETY: the trampoline was generated for `sig`, `function` is a definition
        // of `name` (of that signature: redefinitions must keep it), and `slots`
        // encodes `args`, checked against `sig`, as the trampoline reads them;
        // `strings` outlive the call.
        let raw = unsafe { call.invoke(self, trampoline, function, &slots, deadline) }?;
        // SAFETY: `raw` is a value of type `sig.ret` produced by this call; arrays and
        // strings it refers to are still alive (arena and module memory).
        Ok(unsafe { values::decode(sig.ret, raw, &call) })
    }

    /// Every function of the namespace, by name.
    pub fn functions(&self) -> Vec<FunctionInfo> {
        let ns = self.inner.namespace.read();
        let mut list: Vec<FunctionInfo> = ns
            .functions
            .iter()
            .map(|(name, f)| {
                let (state, compile_us) = match &f.current {
                    None => (FunctionState::Undefined, 0),
                    Some(v) if v.compiled.load(Relaxed) => (FunctionState::Compiled, v.compile_us.load(Relaxed)),
                    Some(_) => (FunctionState::Lazy, 0),
                };
                let calls = f.calls.load(Relaxed);
                FunctionInfo { name: name.clone(), sig: f.sig.clone(), state, compile_us, calls }
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
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
            code_bytes: c.code_bytes.load(Relaxed),
            compile_buckets: c.compile_buckets.iter().map(|b| b.load(Relaxed)).collect(),
        }
    }

    /// With `Config::profile`, where the time of each compilation so far went.
    pub fn compile_records(&self) -> Vec<CompileRecord> {
        self.inner.compile_records.lock().clone()
    }

    /// Replaced or unloaded code still waiting for running calls to end.
    pub fn code_awaiting_release(&self) -> usize {
        self.inner.reclaimer.pending()
    }
}

impl RuntimeHost for Engine {
    fn resolve(&self, name: &str) -> Result<usize, RuntimeError> {
        self.inner.resolve(name)
    }

    fn load(&self, source: &str) -> bool {
        let file = SourceFile::new("<load>", source.to_string());
        match self.add(file, false, self.inner.config.opt_level, true) {
            Ok(_) => true,
            Err(e) => {
                output::diagnostic(&e.to_string());
                false
            }
        }
    }
}

/// Parses and checks a program (`ore check`) without creating a JIT.
pub fn check_program(file: &SourceFile) -> Result<(), CompileError> {
    check_alone(file, true).map(drop)
}

/// Parses and checks `file` as the only module of an empty namespace.
fn check_alone(file: &SourceFile, require_main: bool) -> Result<typeck::CheckedModule, CompileError> {
    let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?;
    let ns = Namespace::default();
    let env = NamespaceEnv { ns: &ns, host: &HashMap::new(), policy: &Policy::default() };
    typeck::check_module(&items, &env, &typeck::Options { require_main, allow_python: true }).map_err(|d| file.error(d))
}

/// The LLVM IR of a whole program as one standalone module, for other tools and
/// JITs (`ore emit-ir`): every function unoptimised, named `ore.NAME`, calling the
/// others directly (no slots, so no addresses of this process), with the usual
/// checks; runtime functions it would call are defined as `abort()`.
pub fn program_ir(file: &SourceFile) -> Result<String, Error> {
    let checked = check_alone(file, false)?;
    let (triple, layout) = crate::llvm::host_triple_and_layout();
    let program = crate::llvm::ir::IrModule::new(file.name(), &triple, &layout);
    let symbol = crate::abi::standalone_symbol;
    let options = codegen::Options { unchecked: codegen::Unchecked { direct_calls: true, ..Default::default() }, ..Default::default() };
    for func in &checked.functions {
        let direct = |name: &str| Some(symbol(name));
        let resolvers = codegen::Resolvers { slots: &|_| 0, direct: &direct, inline: &|_| None };
        let module = codegen::generate_function(func, &symbol(&func.name), resolvers, options, &triple, &layout);
        program.link_in(module).map_err(Error::External)?;
    }
    program.define_as_abort(crate::abi::RUNTIME_PREFIX);
    Ok(program.print())
}

fn dump(module: &crate::llvm::ir::IrModule, function: &str, kind: Emit, level: OptLevel) {
    let text = match kind {
        Emit::Ir => module.print(),
        Emit::Asm => module.assembly(level.level()).unwrap_or_else(|e| format!("; assembly unavailable: {e}\n")),
    };
    eprint!("; ---- {function} ----\n{text}");
}

impl Inner {
    /// `Limits::max_source_bytes`, for Ore and IR modules alike.
    fn check_source_size(&self, name: &str, len: usize) -> Result<(), Error> {
        let max = self.config.limits.max_source_bytes;
        if len > max {
            return Err(Error::Limit(format!("{name}: the source is {len} bytes, over the limit of {max}")));
        }
        Ok(())
    }

    /// The address of `name`'s current definition, compiled now if it was not, and
    /// stored in its slot so that later calls go straight to it. Called by a call
    /// that found the slot empty; callers are running host calls, so code retired
    /// meanwhile is not freed under them.
    ///
    /// Compiles at most once: if a redefinition or unload lands during the compile,
    /// the call still runs the version it compiled (it began before the change, so
    /// either version is a correct answer) without publishing it. Retrying instead
    /// could go on for as long as replacements keep coming.
    fn resolve(&self, name: &str) -> Result<usize, RuntimeError> {
        let current = |ns: &Namespace| {
            let entry = ns.functions.get(name)?;
            let version = entry.current.clone()?;
            let dylib = ns.modules.get(&version.module)?.dylib;
            Some((version, dylib, entry.slot.clone()))
        };
        let (version, dylib, slot) = current(&self.namespace.read()).ok_or_else(|| RuntimeError::UndefinedFunction(name.to_string()))?;
        let found = self.jit.lookup_all(dylib, std::slice::from_ref(&version.symbol));
        let address = found.map_err(|e| RuntimeError::Internal(format!("`{name}` could not be compiled: {e}")))?[0];
        // Publish only if this is still the current definition: a redefinition
        // (under the write lock) empties the slot, and must not be undone here.
        let ns = self.namespace.read();
        if current(&ns).is_some_and(|(v, _, _)| Arc::ptr_eq(&v, &version)) {
            // Release: whoever loads the address also sees the linked code.
            slot.code.store(address, std::sync::atomic::Ordering::Release);
        }
        Ok(address)
    }

    fn slot(&self, name: &str) -> Arc<Slot> {
        self.slots.lock().entry(name.to_string()).or_default().clone()
    }

    /// Makes `symbols` callable through `extern fn` from modules added afterwards.
    fn add_host_symbols(&self, symbols: Vec<(String, usize)>) -> Result<(), Error> {
        let mut hosts = self.host_functions.write();
        if let Some((name, _)) = symbols.iter().find(|(n, _)| hosts.contains_key(n)) {
            return Err(Error::External(format!("symbol `{name}` is already defined by another library or module")));
        }
        for (name, address) in symbols {
            hosts.insert(name, HostSymbol { sig: None, address });
        }
        Ok(())
    }

    /// A new dylib for external code, resolving what it needs in the process.
    fn external_dylib(&self) -> Result<Dylib, Error> {
        let dylib = self.jit.create_dylib(&format!("ore.external.{}", self.next_id.fetch_add(1, Relaxed)));
        self.jit.add_process_symbols(dylib)?;
        Ok(dylib)
    }

    /// Clears retired module dylibs (freeing their code) and keeps them for reuse.
    fn free(&self, dylibs: Vec<Dylib>) {
        if dylibs.is_empty() {
            return;
        }
        for dylib in dylibs {
            match self.jit.clear(dylib) {
                Ok(()) => self.spare_dylibs.lock().push(dylib),
                Err(e) => tracing::error!("freeing replaced code: {e}"),
            }
        }
        self.jit.clear_dead_symbol_names();
    }

    /// An empty dylib for a new module, seeing the runtime, the host functions and
    /// the process's symbols.
    fn module_dylib(&self) -> Result<Dylib, Error> {
        let dylib = match self.spare_dylibs.lock().pop() {
            Some(dylib) => dylib,
            None => {
                let dylib = self.jit.create_dylib(&format!("ore.module.{}", self.next_id.fetch_add(1, Relaxed)));
                self.jit.add_process_symbols(dylib)?;
                dylib
            }
        };
        let mut symbols = runtime::symbols();
        let hosts = self.host_functions.read();
        symbols.extend(hosts.iter().map(|(name, h)| (name.as_str(), h.address)));
        self.jit.define_absolute(dylib, &symbols)?;
        Ok(dylib)
    }

    /// Defines a new version of each function (body unit plus lazy entry point) in a
    /// new dylib, and creates the entry points' stubs. Caller holds the namespace
    /// write lock.
    fn define_versions(
        &self,
        id: ModuleId,
        level: OptLevel,
        functions: Vec<tir::Function>,
        me: &Arc<Inner>,
    ) -> Result<ModuleRecord, Error> {
        let dylib = self.module_dylib()?;
        let record = self.define_in(dylib, id, level, functions, me);
        if record.is_err() {
            self.free(vec![dylib]);
        }
        record
    }

    fn define_in(
        &self,
        dylib: Dylib,
        id: ModuleId,
        level: OptLevel,
        functions: Vec<tir::Function>,
        me: &Arc<Inner>,
    ) -> Result<ModuleRecord, Error> {
        let mut versions = Vec::with_capacity(functions.len());
        for func in functions {
            let number = self.next_id.fetch_add(1, Relaxed);
            let func = Arc::new(func);
            let version = Arc::new(Version {
                symbol: crate::abi::function_symbol(&func.name, number),
                number,
                inline: func.is_inline_candidate().then(|| func.clone()),
                module: id,
                level,
                compiled: AtomicBool::new(false),
                compile_us: AtomicU64::new(0),
            });
            let name = func.name.clone();
            self.define_body(dylib, func, version.clone(), Arc::downgrade(me))?;
            versions.push((name, version));
        }
        self.counters.functions.fetch_add(versions.len() as u64, Relaxed);
        let live = versions.len();
        Ok(ModuleRecord { dylib, anonymous: false, versions, live })
    }

    /// Makes a module's versions the current definitions; returns replaced code that
    /// is already safe to free.
    fn install(&self, ns: &mut Namespace, id: ModuleId, record: ModuleRecord) -> Vec<Dylib> {
        let mut free = Vec::new();
        for (name, version) in &record.versions {
            let entry = ns.functions.get_mut(name).expect("signatures were entered first");
            // Empty: the first call compiles the new version (`Inner::resolve`).
            entry.slot.code.store(0, Relaxed);
            entry.slot.definition.store(version.number, Relaxed);
            let Some(old) = entry.current.replace(version.clone()) else { continue };
            free.extend(self.release(ns, &old));
        }
        // A module of declarations only has nothing that can run: retire it now.
        if record.live == 0 {
            free.extend(self.reclaimer.retire(record.dylib));
            if record.anonymous {
                return free;
            }
        }
        ns.modules.insert(id, record);
        free
    }

    /// Counts `old`, no longer current, out of its module; returns the module's code
    /// if that retired it and it is safe to free already.
    fn release(&self, ns: &mut Namespace, old: &Version) -> Vec<Dylib> {
        let Some(module) = ns.modules.get_mut(&old.module) else { return Vec::new() };
        module.live -= 1;
        if module.live > 0 {
            return Vec::new();
        }
        let free = self.reclaimer.retire(module.dylib);
        // Nothing of it can run again: keep no more than `remove_module` needs (it
        // empties no slot for a module with nothing live).
        module.versions = Vec::new();
        if module.anonymous {
            ns.modules.remove(&old.module);
        }
        free
    }

    /// Defines the version's symbol as a unit that generates and compiles `func` when
    /// first looked up.
    fn define_body(&self, dylib: Dylib, func: Arc<tir::Function>, version: Arc<Version>, me: Weak<Inner>) -> Result<(), Error> {
        let symbol = version.symbol.clone();
        let materializer = Box::new(move |mr: MaterializationResponsibility| {
            let Some(inner) = me.upgrade() else { return mr.fail() };
            // This runs on the stack of the JIT'd code that made the call, possibly
            // deep in a recursion: make sure LLVM has room.
            stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || inner.materialize(&func, &version, mr));
        });
        self.jit.define_materializer(dylib, &symbol, materializer)?;
        Ok(())
    }

    fn materialize(&self, func: &tir::Function, version: &Version, mr: MaterializationResponsibility) {
        let _span = tracing::debug_span!("materialize", function = %func.name).entered();
        let start = Instant::now();
        let slot_address = |name: &str| Arc::as_ptr(&self.slot(name)) as usize;
        // The current definition of a callee, if the same module made it.
        let same_module = |name: &str| {
            let ns = self.namespace.read();
            let callee = ns.functions.get(name)?.current.clone()?;
            (callee.module == version.module).then_some(callee)
        };
        let direct = |name: &str| same_module(name).map(|v| v.symbol.clone());
        let inline = |name: &str| {
            let callee = same_module(name)?;
            let func = callee.inline.clone()?;
            Some(codegen::InlineCopy { func, definition: callee.number })
        };
        let resolvers = codegen::Resolvers { slots: &slot_address, direct: &direct, inline: &inline };
        let options = codegen::Options { interruptible: self.config.interruptible, unchecked: self.config.unchecked };
        let module = codegen::generate_function(func, &version.symbol, resolvers, options, self.jit.triple(), self.jit.data_layout());
        let irgen = micros(start);
        let level = if func.is_huge() { OptLevel::O0 } else { version.level };
        let Some(total) = self.compile(&func.name, irgen, mr, module, level) else { return };
        version.compile_us.store(total, Relaxed);
        version.compiled.store(true, Relaxed);
    }

    /// Optimises, compiles (on this thread's target machine) and links one
    /// function's module, fulfilling `mr`, and counts it in the stats. Returns the
    /// total time from IR generation to linked code, or `None` (with `mr` failed and
    /// the error logged) if LLVM refused the module.
    fn compile(
        &self,
        function: &str,
        irgen_us: u64,
        mr: MaterializationResponsibility,
        module: crate::llvm::ir::IrModule,
        level: OptLevel,
    ) -> Option<u64> {
        let mut optimize_us = 0;
        let mut codegen_us = 0;
        let mut object = None;
        let total = exclusive_micros(|| {
            let start = Instant::now();
            let verified = if self.config.verify_ir { module.verify().map_err(|e| format!("invalid IR generated: {e}")) } else { Ok(()) };
            let compiled = verified.and_then(|()| module.optimize(level.level())).and_then(|()| {
                optimize_us = micros(start);
                if let Some(kind) = self.config.emit {
                    dump(&module, function, kind, level);
                }
                let start = Instant::now();
                let compiled = module.emit_object(level.level());
                codegen_us = micros(start);
                compiled
            });
            drop(module);
            match compiled {
                Ok(code) => {
                    object = Some(code.len() as u64);
                    self.jit.emit_object(mr, code);
                }
                Err(e) => {
                    tracing::error!("compiling `{function}`: {e}");
                    mr.fail();
                }
            }
        });
        let code_bytes = object?;
        let total = total + irgen_us;
        let c = &self.counters;
        c.compiled.fetch_add(1, Relaxed);
        c.irgen_us.fetch_add(irgen_us, Relaxed);
        c.compile_us.fetch_add(total - irgen_us, Relaxed);
        c.code_bytes.fetch_add(code_bytes, Relaxed);
        let bucket = COMPILE_BUCKETS_US.iter().position(|&b| total <= b).unwrap_or(COMPILE_BUCKETS_US.len());
        c.compile_buckets[bucket].fetch_add(1, Relaxed);
        COMPILED_HERE.with(|here| {
            let mut here = here.borrow_mut();
            if here.calls > 0 {
                here.names.push(function.to_string());
                here.total_us += total;
            }
        });
        tracing::debug!(function, irgen_us, optimize_us, codegen_us, total_us = total, "compiled");
        if self.config.profile {
            let record = CompileRecord {
                function: function.to_string(),
                opt_level: level.level(),
                irgen_us,
                optimize_us,
                codegen_us,
                link_us: total.saturating_sub(irgen_us + optimize_us + codegen_us),
            };
            self.compile_records.lock().push(record);
        }
        Some(total)
    }

    /// Defines `body` as a unit that cuts function `function` out of an IR module's
    /// bitcode (everything else becomes a declaration) and compiles it.
    fn define_ir_body(
        &self,
        dylib: Dylib,
        module: &str,
        function: &str,
        body: &str,
        bitcode: Arc<[u8]>,
        me: Weak<Inner>,
    ) -> Result<(), Error> {
        let (module, function, symbol) = (module.to_string(), function.to_string(), body.to_string());
        let materializer = Box::new(move |mr: MaterializationResponsibility| {
            let Some(inner) = me.upgrade() else { return mr.fail() };
            stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || {
                let _span = tracing::debug_span!("materialize", function = %function, module = %module).entered();
                let start = Instant::now();
                let ir = match crate::llvm::ir::IrModule::parse(&symbol, &bitcode, inner.jit.triple(), inner.jit.data_layout()) {
                    Ok(ir) => ir,
                    Err(e) => {
                        tracing::error!("re-reading `{module}`: {e}");
                        return mr.fail();
                    }
                };
                ir.retain_only(Some(&function), &symbol);
                let irgen = micros(start);
                // Linking may compile the module's global data in place, with
                // LLJIT's own compiler.
                let _glue = inner.glue.lock();
                inner.compile(&function, irgen, mr, ir, inner.config.opt_level);
            });
        });
        self.jit.define_materializer(dylib, body, materializer)?;
        Ok(())
    }
}

/// The namespace as the checker sees it.
struct NamespaceEnv<'a> {
    ns: &'a Namespace,
    host: &'a HashMap<String, HostSymbol>,
    policy: &'a Policy,
}

impl Environment for NamespaceEnv<'_> {
    fn function(&self, name: &str) -> Option<ExistingFunction> {
        self.ns.functions.get(name).map(|f| ExistingFunction { sig: f.sig.clone(), origin: f.origin.clone() })
    }

    fn extern_fn(&self, name: &str) -> Option<ExternSig> {
        self.ns.externs.get(name).cloned()
    }

    fn is_host_function(&self, name: &str) -> bool {
        self.host.get(name).is_some_and(|h| h.sig.is_some())
    }

    fn resolve_symbol(&self, name: &str) -> SymbolStatus {
        // The host's own functions, objects and IR modules were added on purpose;
        // the policy governs what the process happens to export.
        match self.host.get(name).map(|h| &h.sig) {
            Some(Some(sig)) => return SymbolStatus::Host(sig.clone()),
            Some(None) => return SymbolStatus::Process,
            None => {}
        }
        if !self.policy.python && crate::abi::is_python_symbol(name) {
            return SymbolStatus::Forbidden("this engine does not allow Python".into());
        }
        let pinned = match &self.policy.extern_allow_list {
            Some(allowed) => match allowed.get(name) {
                Some(sig) => Some(sig.clone()),
                None => return SymbolStatus::Forbidden("it is not on this engine's allow-list".into()),
            },
            None => None,
        };
        let cname = crate::llvm::c_string(name);
        // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded objects' symbol tables.
        let found = unsafe { !libc::dlsym(libc::RTLD_DEFAULT, cname.as_ptr()).is_null() };
        match (found, pinned) {
            (false, _) => SymbolStatus::Missing,
            (true, Some(sig)) => SymbolStatus::Pinned(sig),
            (true, None) => SymbolStatus::Process,
        }
    }
}
