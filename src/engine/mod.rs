//! The embedding API over the lazy ORC pipeline: an `Engine` (one LLJIT, shared)
//! and the `Namespace`s it serves (each with its own functions, slots, modules,
//! host functions, policy and limits), like wasmtime's Engine and Store.
//!
//! Adding a module to a namespace parses and checks it, then gives it a JITDylib of
//! its own and, for each function it defines, a new *version* holding its typed IR,
//! and empties the function's *slot*. Nothing else happens until a call: a call that
//! finds the slot empty asks `Inner::resolve`, which defines the version's custom
//! materialization unit for `ore.f` (once) and looks it up, running
//! `Inner::materialize` on the calling thread (or whichever thread drives the
//! session's lookups at that moment: IR generation, optimisation, code generation
//! with the thread's own target machine, linking), and stores the code's address
//! in the slot. With `Config::tiering` that first compile is tier 0, and
//! `tiering` replaces it with the top tier once the function is hot.
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
//! dylibs go back to the engine, which hands them to any namespace: the C API
//! cannot destroy one, and a cleared dylib keeps nothing of its past but the
//! process-symbol generator every dylib has.
//!
//! Isolation: a namespace looks names up only in dylibs it owns, and defines in
//! them only the runtime, its own host functions and its own code; a function calls
//! another through its namespace's slot. So no name can reach another namespace's
//! code, whatever the two define.
//!
//! Locks: a namespace's `tables` (RwLock) guards its symbol tables and is written
//! while a module is checked and defined; `slots` (Mutex) is read by
//! materializers. Ore functions compile under no engine-wide lock; the engine's
//! `glue` serialises the glue code LLJIT's own compiler builds (it owns one
//! TargetMachine, which is not thread-safe). Host-entry trampolines are shared by
//! all engines (`trampolines`). No lock is held while JIT'd code runs, so JIT'd code
//! may load more code, compile functions, and call host callbacks that re-enter the
//! engine.

// The host boundary: these modules turn typed Rust values into the raw slots JIT'd
// code reads and back, and call machine code by address, which only they can
// prove sound (see ARCHITECTURE.md, "Unsafe code").
#[allow(unsafe_code)]
mod call;
mod config;
mod environment;
mod error;
mod evaluate;
mod external;
#[allow(unsafe_code)]
mod func;
#[allow(unsafe_code)]
mod host;
mod ir_modules;
mod materialize;
mod namespace;
mod policy;
mod reclaim;
mod stats;
mod tiering;
mod trampolines;
#[allow(unsafe_code)]
mod values;

pub use call::{CallOptions, CallReport};
pub use config::{Config, Emit, Limits, OptLevel, Tiering};
pub use error::{Error, Limit};
pub use evaluate::{Evaluation, EVALUATION_PREFIX};
pub use func::{Func, OreType, Params, Results, TypedFunc};
pub use host::{CAbi, CParam, CResult, Caller, Closure, HostImpl, HostOwner, HostParam, HostResult, IntoHostFunction, WithCaller};
pub use ir_modules::IrModuleInfo;
pub use namespace::{ModuleId, ModuleInfo, Namespace};
pub use policy::{allow_list, known_signature, parse_signature, Policy, DEFAULT_EXTERN_ALLOW_LIST, KNOWN_C_FUNCTIONS};
pub use stats::{CompileRecord, CompiledCode, FunctionInfo, FunctionState, Stats, COMPILE_BUCKETS_US};
pub use tiering::{stop_background_compiles, Tier};
pub use values::{Arg, Value};

use crate::cache::ObjectCache;
use crate::check::{self, Environment, ExistingFunction, SymbolStatus};
use crate::codegen;
use crate::diagnostics::SourceFile;
use crate::llvm::orc::{Dylib, Jit, MaterializationResponsibility};
use crate::runtime::{self, output, HostCall, RuntimeError, RuntimeHost};
use crate::syntax;
use crate::tir;
use crate::types::{ExternSig, FnSig};
use environment::NamespaceEnv;
use namespace::{HostSymbol, Inner, IrRecord, Slot, Tables, Version};
use parking_lot::{Mutex, ReentrantMutex, RwLock};
use reclaim::Reclaimer;
use stats::{micros, Counters};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

/// The JIT that namespaces share: one LLJIT (its session, linker and glue
/// compiler). `Send + Sync`; clones are handles to the same engine, which lives as
/// long as any of them or of its namespaces.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

/// `jit` is the last field: fields drop in declaration order.
struct Shared {
    /// Cleared dylibs, ready for reuse by any namespace.
    spare_dylibs: Mutex<Vec<Dylib>>,
    /// Keeps threads out of LLJIT's own compiler (which owns one TargetMachine) one
    /// at a time: it compiles glue code (closure thunks, IR data), and may do so
    /// in place while an IR module's function is linked. Ore functions are compiled
    /// with per-thread target machines and do not take it. Reentrant: linking may
    /// run other pending materializations in place on the same thread.
    glue: ReentrantMutex<()>,
    /// Numbers dylibs (for their names) and IR modules (to rename their locals).
    next_id: AtomicU64,
    /// Set once a namespace with `Config::debug_info` exists: objects are then
    /// registered with debuggers.
    debugger: OnceLock<()>,
    /// Open object caches by directory, so that namespaces sharing one share its
    /// size accounting.
    caches: Mutex<HashMap<std::path::PathBuf, Arc<ObjectCache>>>,
    jit: Jit,
}

impl Engine {
    /// A new engine: an LLJIT of its own, for the host's CPU.
    pub fn new() -> Result<Engine, Error> {
        Ok(Engine::create()?)
    }

    fn create() -> Result<Engine, crate::llvm::LlvmError> {
        // LLJIT's own compiler only builds glue (closure thunks, IR modules' data):
        // its level hardly matters.
        let jit = Jit::new(OptLevel::O2.level(), Some(runtime::lazy_call_failed_handler()))?;
        let shared = Shared {
            spare_dylibs: Mutex::default(),
            glue: ReentrantMutex::new(()),
            next_id: AtomicU64::new(1),
            debugger: OnceLock::new(),
            caches: Mutex::default(),
            jit,
        };
        Ok(Engine { shared: Arc::new(shared) })
    }

    /// The engine `Namespace::new` uses, created on first use and kept for the life
    /// of the process.
    pub fn process_default() -> Result<&'static Engine, Error> {
        static DEFAULT: OnceLock<Result<Engine, crate::llvm::LlvmError>> = OnceLock::new();
        DEFAULT.get_or_init(Engine::create).as_ref().map_err(|e| Error::Jit(e.clone()))
    }

    /// Bytes of compiled code and data the engine holds now, all namespaces
    /// together (freed code excluded). Code lives in shared slabs, so this is
    /// what compiled functions cost in memory, less the linker's bookkeeping.
    /// `None` where the slabs could not be mapped (no room for their address
    /// space), and each allocation has pages of its own.
    pub fn code_memory_in_use(&self) -> Option<u64> {
        self.shared.jit.code_bytes_in_use()
    }

    /// A new, empty namespace of this engine, configured by `config`.
    pub fn namespace(&self, config: Config) -> Result<Namespace, Error> {
        Ok(Namespace::with_engine(self.shared.clone(), config))
    }
}

impl Shared {
    /// Registers objects with debuggers from now on (once per engine).
    fn enable_debugger(&self) {
        self.debugger.get_or_init(|| {
            if let Err(e) = self.jit.enable_debugger_support() {
                tracing::warn!("debug info is emitted, but debuggers will not see it: {e}");
            }
        });
    }

    /// The object cache `config` asks for, opened on first use; `None` (and a
    /// warning) if the directory cannot be made.
    fn cache(&self, config: &Config) -> Option<Arc<ObjectCache>> {
        let dir = config.cache_dir.as_ref()?;
        let mut caches = self.caches.lock();
        if let Some(cache) = caches.get(dir) {
            return Some(cache.clone());
        }
        let max = config.cache_max_bytes.unwrap_or(crate::cache::DEFAULT_MAX_BYTES);
        match ObjectCache::open(dir, max) {
            Ok(cache) => {
                let cache = Arc::new(cache);
                caches.insert(dir.clone(), cache.clone());
                Some(cache)
            }
            Err(e) => {
                tracing::warn!("object cache {} unusable, compiling without it: {e}", dir.display());
                None
            }
        }
    }

    /// An empty dylib that resolves what the process exports: a cleared one if any.
    fn dylib(&self, kind: &str) -> Result<Dylib, Error> {
        if let Some(dylib) = self.spare_dylibs.lock().pop() {
            return Ok(dylib);
        }
        let dylib = self.jit.create_dylib(&format!("ore.{kind}.{}", self.next_id.fetch_add(1, Relaxed)));
        self.jit.add_process_symbols(dylib)?;
        Ok(dylib)
    }

    /// Clears dylibs nothing can run any more (freeing their code) and keeps them
    /// for reuse.
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
}
