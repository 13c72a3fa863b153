//! The server's state, independent of HTTP: namespaces (an `engine::Namespace`
//! each, all in one `Engine`), their named modules, persistence, and conversion
//! between JSON and Ore values.
//!
//! Why an engine namespace per server namespace: each has its own functions, slots,
//! dylibs and host functions, so code in one can never name, call or replace a
//! function of another, while all share one LLJIT (see `engine`'s isolation rule).

use super::json::{from_json, to_json};
use super::store::{Store, StoredModule, StoredName, StoredNamespace};
use crate::diagnostics::CompileError;
use crate::engine::{self, CallOptions, Engine, FunctionInfo, ModuleId, OptLevel, Stats};
use crate::runtime::trace::Trace;
use crate::runtime::RuntimeError;
use crate::types::{FnSig, Ty};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// What every namespace's engine and every call get.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The optimisation level of modules that do not ask for one.
    pub opt_level: OptLevel,
    /// Tiered compilation for every namespace (`engine::Config::tiering`).
    pub tiering: Option<engine::Tiering>,
    /// What modules may call.
    pub policy: engine::Policy,
    /// Bounds on what modules may add.
    pub limits: engine::Limits,
    /// Whether modules may be LLVM IR (trusted code).
    pub allow_llvm_ir: bool,
    /// Namespaces the server holds at most.
    pub max_namespaces: usize,
    /// A call's deadline when it gives none.
    pub default_timeout: Duration,
    /// The longest deadline a call may ask for.
    pub max_timeout: Duration,
    /// Bytes all arrays of one call may take.
    pub max_array_bytes: u64,
    /// Bytes of output one call may capture.
    pub max_output_bytes: usize,
    /// Modules one call may add with `load`.
    pub max_loads_per_call: u32,
    /// Namespaces keep compiled code here and link it from here after a restart
    /// (`engine::Config::cache_dir`).
    pub cache_dir: Option<std::path::PathBuf>,
}

/// Why a request failed; the HTTP layer maps each kind to a status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such namespace, module or function (404).
    #[error("{0}")]
    NotFound(String),
    /// The module does not compile (422).
    #[error("{0}")]
    Compile(CompileError),
    /// A limit of the server or namespace (429).
    #[error("{0}")]
    Limit(String),
    /// A request body over the server's limit.
    #[error("{0}")]
    TooLarge(String),
    /// Something the server's policy refuses (403).
    #[error("{0}")]
    Forbidden(String),
    /// A change the namespace's state does not allow (409).
    #[error("{0}")]
    Conflict(String),
    /// The call ended with a runtime error or its deadline (422 or 408), raised
    /// where the trace says.
    #[error("{error}")]
    Runtime {
        /// What went wrong.
        error: RuntimeError,
        /// The Ore frames it returned through.
        trace: Trace,
    },
    /// A failure of the server itself (500).
    #[error("{0}")]
    Internal(String),
    /// The server is running as many calls as it may.
    #[error("{0}")]
    Busy(String),
}

impl From<engine::Error> for ServiceError {
    fn from(e: engine::Error) -> Self {
        use engine::Error as E;
        match e {
            E::Compile(c) => ServiceError::Compile(c),
            E::Runtime { error, trace } => ServiceError::Runtime { error, trace },
            E::UnknownFunction(_) | E::UnknownModule(_) => ServiceError::NotFound(e.to_string()),
            E::ModuleInUse { .. } => ServiceError::Conflict(e.to_string()),
            E::Arity { .. } | E::ArgumentType { .. } | E::Signature { .. } => ServiceError::BadRequest(e.to_string()),
            E::Limit { message, .. } => ServiceError::Limit(message),
            E::NotInterruptible => ServiceError::Internal(e.to_string()),
            E::External(m) => ServiceError::BadRequest(m),
            E::HostFunctionExists(_) | E::HostSignature { .. } | E::Jit(_) => ServiceError::Internal(e.to_string()),
        }
    }
}

/// The language of a module's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Language {
    /// Ore source.
    #[default]
    #[serde(rename = "ore")]
    Ore,
    /// LLVM IR text.
    #[serde(rename = "llvm-ir")]
    LlvmIr,
}

impl Language {
    fn as_str(self) -> &'static str {
        match self {
            Language::Ore => "ore",
            Language::LlvmIr => "llvm-ir",
        }
    }

    fn parse(s: &str) -> Option<Language> {
        [Language::Ore, Language::LlvmIr].into_iter().find(|l| l.as_str() == s)
    }
}

/// A module to add or replace.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleRequest {
    /// Its name in the namespace; adding a name again replaces the module.
    pub name: String,
    /// Its source text.
    pub source: String,
    /// What the source is written in.
    #[serde(default)]
    pub language: Language,
    /// Its optimisation level (0-3), instead of the server's.
    pub opt_level: Option<u8>,
}

/// A call of a function.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// The function's name.
    pub function: String,
    /// Its arguments, as JSON values of the parameters' types.
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
    /// The call's deadline, up to the server's maximum.
    pub timeout_ms: Option<u64>,
}

/// A function as the API describes it.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionDesc {
    /// The function's name.
    pub name: String,
    /// `fn(i64, f64) -> bool`; absent for LLVM IR functions, whose types Ore does not know.
    pub signature: Option<String>,
    /// The parameters' types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Ty>>,
    /// The result's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ret: Option<Ty>,
    /// Whether it is defined and compiled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<engine::FunctionState>,
    /// Time to compile its current definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile_us: Option<u64>,
    /// Calls from the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
}

impl FunctionDesc {
    fn declared(name: String, sig: Option<&FnSig>) -> FunctionDesc {
        FunctionDesc {
            name,
            signature: sig.map(|s| s.to_string()),
            params: sig.map(|s| s.params.clone()),
            ret: sig.map(|s| s.ret),
            state: None,
            compile_us: None,
            calls: None,
        }
    }

    fn from_info(f: FunctionInfo) -> FunctionDesc {
        FunctionDesc {
            state: Some(f.state),
            compile_us: Some(f.compile_us),
            calls: Some(f.calls),
            ..FunctionDesc::declared(f.name, Some(&f.sig))
        }
    }
}

/// A module as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ModuleDesc {
    /// Its name in the namespace.
    pub name: String,
    /// What its source is written in.
    pub language: Language,
    /// The optimisation level it was added with, if not the server's.
    pub opt_level: Option<u8>,
    /// The functions it defines or declares, in source order.
    pub functions: Vec<String>,
    /// Its source text, when one module is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A namespace as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct NamespaceDesc {
    /// Its name.
    pub name: String,
    /// Modules loaded in it.
    pub modules: usize,
    /// Ore functions it knows, defined or declared.
    pub functions: usize,
}

/// What a call did; `result` is an error for runtime errors and timeouts.
pub struct CallOutcome {
    /// The result as JSON, or why the call failed.
    pub result: Result<serde_json::Value, ServiceError>,
    /// What the call printed.
    pub stdout: String,
    /// Diagnostics of a failed `load`.
    pub stderr: String,
    /// Output beyond the capture limit was dropped.
    pub output_truncated: bool,
    /// Functions compiled during the call, in order.
    pub compiled: Vec<String>,
    /// Wall time of the call.
    pub elapsed_us: u64,
}

#[derive(Clone, Copy)]
enum LoadedModule {
    Ore(ModuleId),
    LlvmIr(ModuleId),
}

impl LoadedModule {
    fn id(self) -> ModuleId {
        match self {
            LoadedModule::Ore(id) | LoadedModule::LlvmIr(id) => id,
        }
    }
}

struct Tenant {
    code: engine::Namespace,
    /// Held while a module is added or removed and its row written, so replacing one
    /// is atomic and the state file always agrees with memory.
    modules: Mutex<Modules>,
}

/// A module loaded in a namespace, with what it was added from.
struct Module {
    loaded: LoadedModule,
    request: ModuleRequest,
    functions: Vec<String>,
}

impl Module {
    fn describe(&self, with_source: bool) -> ModuleDesc {
        let r = &self.request;
        let source = with_source.then(|| r.source.clone());
        ModuleDesc { name: r.name.clone(), language: r.language, opt_level: r.opt_level, functions: self.functions.clone(), source }
    }
}

#[derive(Default)]
struct Modules {
    /// By name, so listings come sorted.
    by_name: BTreeMap<String, Module>,
    /// Set (under this lock) when the namespace is deleted: an add that waited for
    /// the lock then starts over in a new namespace of the same name, so an add
    /// and a delete are linearisable and nothing is written for a deleted one.
    deleted: bool,
    /// Names the state file holds, and whether each had a definition there.
    stored_names: HashMap<String, bool>,
}

/// Every namespace of the server, in one engine, and the state file.
pub struct Registry {
    settings: Settings,
    /// The JIT every namespace's code lives in.
    engine: Engine,
    namespaces: RwLock<HashMap<String, Arc<Tenant>>>,
    store: Option<Store>,
    /// Stats of deleted namespaces, so that metrics never go backwards.
    retired: Mutex<Stats>,
}

/// Names of namespaces and modules: they appear in URLs and logs.
fn check_name(what: &str, name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!("invalid {what} name {name:?}: use 1 to 64 of A-Z a-z 0-9 _ - .")))
    }
}

impl Registry {
    /// A registry, with the modules of `store` loaded again (compiled lazily). A
    /// module that cannot be restored stops start-up with an error naming it.
    pub fn new(settings: Settings, store: Option<Store>) -> Result<Registry, ServiceError> {
        let stored = match &store {
            Some(s) => s.namespaces().map_err(|e| ServiceError::Internal(format!("reading the state file: {e}")))?,
            None => Vec::new(),
        };
        let engine = Engine::new().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let registry = Registry { settings, engine, namespaces: RwLock::default(), store, retired: Mutex::default() };
        for namespace in stored {
            registry.restore(namespace)?;
        }
        Ok(registry)
    }

    /// Replays one stored namespace: IR modules first (Ore modules' `extern fn`s
    /// name their functions), then every name it knew, then its Ore modules in the
    /// order they were last written (see `store`).
    fn restore(&self, stored: StoredNamespace) -> Result<(), ServiceError> {
        let ns = &stored.name;
        let failed = |what: &str, e: ServiceError| {
            ServiceError::Internal(format!("cannot restore {what} of namespace `{ns}` from the state file: {e}"))
        };
        let namespace = self.namespace_or_create(ns).map_err(|e| failed("the namespace", e))?;
        let mut modules = namespace.modules.lock();
        let (ir, ore): (Vec<_>, Vec<_>) = stored.modules.into_iter().partition(|m| m.language == Language::LlvmIr.as_str());
        for m in &ir {
            self.restore_module(&namespace.code, &mut modules, m).map_err(|e| failed(&format!("module `{}`", m.name), e))?;
        }
        if !stored.names.is_empty() {
            let declarations: Vec<&str> = stored.names.iter().map(|n| n.declaration.as_str()).collect();
            let code = &namespace.code;
            code.add_module("<restored declarations>", &declarations.join("\n")).map_err(|e| failed("the declarations", e.into()))?;
        }
        for m in &ore {
            self.restore_module(&namespace.code, &mut modules, m).map_err(|e| failed(&format!("module `{}`", m.name), e))?;
        }
        // Functions whose last definition was unloaded stay undefined, even where an
        // older module that was replayed defines them.
        for n in stored.names.iter().filter(|n| !n.defined) {
            namespace.code.undefine(&n.name).map_err(|e| failed(&format!("function `{}`", n.name), e.into()))?;
        }
        modules.stored_names = stored.names.into_iter().map(|n| (n.name, n.defined)).collect();
        tracing::info!(namespace = %ns, modules = modules.by_name.len(), "restored");
        Ok(())
    }

    fn restore_module(&self, code: &engine::Namespace, modules: &mut Modules, m: &StoredModule) -> Result<(), ServiceError> {
        let language = Language::parse(&m.language).ok_or_else(|| ServiceError::Internal(format!("unknown language {:?}", m.language)))?;
        if language == Language::LlvmIr && !self.settings.allow_llvm_ir {
            return Err(ServiceError::Forbidden("it is LLVM IR, and the server was started without --allow-llvm-ir".into()));
        }
        let request = ModuleRequest { name: m.name.clone(), source: m.source.clone(), language, opt_level: m.opt_level };
        self.load(code, modules, &request).map(drop)
    }

    /// The settings the registry was created with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn namespace(&self, ns: &str) -> Result<Arc<Tenant>, ServiceError> {
        self.namespaces.read().get(ns).cloned().ok_or_else(|| ServiceError::NotFound(format!("no namespace `{ns}`")))
    }

    fn namespace_or_create(&self, ns: &str) -> Result<Arc<Tenant>, ServiceError> {
        if let Ok(found) = self.namespace(ns) {
            return Ok(found);
        }
        let mut all = self.namespaces.write();
        if let Some(found) = all.get(ns) {
            return Ok(found.clone());
        }
        if all.len() >= self.settings.max_namespaces {
            return Err(ServiceError::Limit(format!("the server holds {} namespaces, its limit", self.settings.max_namespaces)));
        }
        let config = engine::Config {
            opt_level: self.settings.opt_level,
            tiering: self.settings.tiering,
            interruptible: true,
            policy: self.settings.policy.clone(),
            limits: self.settings.limits.clone(),
            cache_dir: self.settings.cache_dir.clone(),
            ..engine::Config::default()
        };
        let code = self.engine.namespace(config).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let created = Arc::new(Tenant { code, modules: Mutex::default() });
        all.insert(ns.to_string(), created.clone());
        Ok(created)
    }

    /// Adds (or replaces) a module; returns the functions it defines or declares.
    pub fn add_module(&self, ns: &str, request: ModuleRequest) -> Result<Vec<FunctionDesc>, ServiceError> {
        check_name("namespace", ns)?;
        check_name("module", &request.name)?;
        if request.language == Language::LlvmIr && !self.settings.allow_llvm_ir {
            return Err(ServiceError::Forbidden("LLVM IR modules are trusted code: start the server with --allow-llvm-ir".into()));
        }
        loop {
            let namespace = self.namespace_or_create(ns)?;
            let mut modules = namespace.modules.lock();
            if modules.deleted {
                // Deleted while this add waited: it comes after the delete.
                continue;
            }
            let result = self.load(&namespace.code, &mut modules, &request);
            match &result {
                // A namespace created for a module that failed is not kept.
                Err(_) if modules.by_name.is_empty() => self.forget(ns, &namespace, &mut modules),
                Err(_) => {}
                Ok(_) => self.persist(ns, &namespace.code, &mut modules, Ok(&request))?,
            }
            return result;
        }
    }

    /// Writes a module that was just loaded (`Ok`) or unloaded (`Err(name)`), with
    /// the names of the namespace that are new or changed since the last write.
    /// Caller holds the namespace's module lock.
    fn persist(
        &self,
        ns: &str,
        code: &engine::Namespace,
        modules: &mut Modules,
        module: Result<&ModuleRequest, &str>,
    ) -> Result<(), ServiceError> {
        let Some(store) = &self.store else { return Ok(()) };
        let changed: Vec<StoredName> = names(code).into_iter().filter(|n| modules.stored_names.get(&n.name) != Some(&n.defined)).collect();
        let stored = module.map(|request| StoredModule {
            name: request.name.clone(),
            language: request.language.as_str().to_string(),
            opt_level: request.opt_level,
            source: request.source.clone(),
        });
        let written = match &stored {
            Ok(m) => store.write(ns, Ok(m), &changed),
            Err(name) => store.write(ns, Err(name), &changed),
        };
        written.map_err(|e| ServiceError::Internal(format!("done, but not saved in the state file: {e}")))?;
        modules.stored_names.extend(changed.into_iter().map(|n| (n.name, n.defined)));
        Ok(())
    }

    /// Removes `namespace` from the registry (if it is still the one registered as
    /// `ns`) and marks it deleted. Caller holds its module lock: lock order is a
    /// namespace's modules, then the registry.
    fn forget(&self, ns: &str, namespace: &Arc<Tenant>, modules: &mut Modules) {
        modules.deleted = true;
        let mut all = self.namespaces.write();
        if all.get(ns).is_some_and(|n| Arc::ptr_eq(n, namespace)) {
            all.remove(ns);
        }
    }

    /// Loads or replaces a module in `engine`. Caller holds the module lock.
    fn load(&self, code: &engine::Namespace, modules: &mut Modules, request: &ModuleRequest) -> Result<Vec<FunctionDesc>, ServiceError> {
        let level = match request.opt_level {
            None => self.settings.opt_level,
            Some(l) => OptLevel::new(l).ok_or_else(|| ServiceError::BadRequest(format!("opt_level must be 0 to 3, not {l}")))?,
        };
        let (loaded, described) = match request.language {
            Language::Ore => {
                let info = code.add_module_at(&request.name, &request.source, level)?;
                let described: Vec<_> = info.functions.into_iter().map(|(name, sig)| FunctionDesc::declared(name, Some(&sig))).collect();
                (LoadedModule::Ore(info.id), described)
            }
            Language::LlvmIr => {
                let source = request.source.as_bytes();
                let info = match modules.by_name.get(&request.name).map(|m| m.loaded) {
                    Some(LoadedModule::LlvmIr(old)) => code.replace_ir(old, &request.name, source)?,
                    _ => code.add_ir(&request.name, source)?,
                };
                (LoadedModule::LlvmIr(info.id), info.functions.into_iter().map(|name| FunctionDesc::declared(name, None)).collect())
            }
        };
        let functions = described.iter().map(|f| f.name.clone()).collect();
        let module = Module { loaded, request: request.clone(), functions };
        // The new module is in place first, so its functions never go missing; an
        // IR module replaced in place (`replace_ir`) has nothing left to remove.
        match modules.by_name.insert(request.name.clone(), module).map(|old| old.loaded) {
            Some(old @ LoadedModule::Ore(_)) => code.remove_module(old.id())?,
            Some(LoadedModule::LlvmIr(old)) if matches!(loaded, LoadedModule::Ore(_)) => code.remove_module(old)?,
            _ => {}
        }
        Ok(described)
    }

    /// Unloads module `name` of namespace `ns` and forgets it in the state file.
    pub fn delete_module(&self, ns: &str, name: &str) -> Result<(), ServiceError> {
        let namespace = self.namespace(ns)?;
        let mut modules = namespace.modules.lock();
        match modules.by_name.get(name) {
            None => return Err(ServiceError::NotFound(format!("no module `{name}` in namespace `{ns}`"))),
            Some(module) => namespace.code.remove_module(module.loaded.id())?,
        }
        modules.by_name.remove(name);
        self.persist(ns, &namespace.code, &mut modules, Err(name))
    }

    /// Forgets a namespace. Calls running in it finish first (they hold its engine).
    pub fn delete_namespace(&self, ns: &str) -> Result<(), ServiceError> {
        let namespace = self.namespace(ns)?;
        let mut modules = namespace.modules.lock();
        if modules.deleted {
            return Err(ServiceError::NotFound(format!("no namespace `{ns}`")));
        }
        // The rows go first, under the lock every write of this namespace takes: no
        // row of it can be written after this, and a new namespace of the same name
        // can only be created once this one is out of the registry, below.
        if let Some(store) = &self.store {
            store.delete_namespace(ns).map_err(|e| ServiceError::Internal(format!("cannot delete from the state file: {e}")))?;
        }
        self.forget(ns, &namespace, &mut modules);
        drop(modules);
        self.retired.lock().add(&namespace.code.stats());
        Ok(())
    }

    /// Every namespace, by name.
    pub fn namespaces(&self) -> Vec<NamespaceDesc> {
        let mut all: Vec<(String, Arc<Tenant>)> = self.namespaces.read().iter().map(|(n, t)| (n.clone(), t.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        // The registry's lock is released first: lock order is a namespace's modules,
        // then the registry.
        all.into_iter()
            .filter_map(|(name, tenant)| {
                let modules = tenant.modules.lock();
                (!modules.deleted).then(|| NamespaceDesc { name, modules: modules.by_name.len(), functions: tenant.code.functions().len() })
            })
            .collect()
    }

    /// The modules of namespace `ns`, by name.
    pub fn modules(&self, ns: &str) -> Result<Vec<ModuleDesc>, ServiceError> {
        Ok(self.namespace(ns)?.modules.lock().by_name.values().map(|m| m.describe(false)).collect())
    }

    /// Module `name` of namespace `ns`, with its source.
    pub fn module(&self, ns: &str, name: &str) -> Result<ModuleDesc, ServiceError> {
        let namespace = self.namespace(ns)?;
        let modules = namespace.modules.lock();
        let module = modules.by_name.get(name).ok_or_else(|| ServiceError::NotFound(format!("no module `{name}` in namespace `{ns}`")))?;
        Ok(module.describe(true))
    }

    /// Every function of namespace `ns`.
    pub fn functions(&self, ns: &str) -> Result<Vec<FunctionDesc>, ServiceError> {
        Ok(self.namespace(ns)?.code.functions().into_iter().map(FunctionDesc::from_info).collect())
    }

    /// The deadline a call gets: its `timeout_ms`, or the server's default.
    pub fn call_timeout(&self, request: &CallRequest) -> Result<Duration, ServiceError> {
        match request.timeout_ms {
            None => Ok(self.settings.default_timeout),
            Some(ms) if Duration::from_millis(ms) > self.settings.max_timeout => Err(ServiceError::BadRequest(format!(
                "timeout_ms {ms} is over the server's maximum of {}",
                self.settings.max_timeout.as_millis()
            ))),
            Some(ms) => Ok(Duration::from_millis(ms)),
        }
    }

    /// Runs a call to its end, on the calling thread (a blocking one), with the
    /// deadline `call_timeout` gave it.
    pub fn call(&self, ns: &str, request: CallRequest, timeout: Duration) -> Result<CallOutcome, ServiceError> {
        let namespace = self.namespace(ns)?;
        let code = &namespace.code;
        let name = &request.function;
        let sig = code.function(name).ok_or_else(|| ServiceError::NotFound(format!("no function `{name}` in namespace `{ns}`")))?;
        if request.args.len() != sig.params.len() {
            return Err(engine::Error::Arity { name: name.clone(), expected: sig.params.len(), given: request.args.len() }.into());
        }
        let args = request
            .args
            .iter()
            .zip(&sig.params)
            .enumerate()
            .map(|(i, (json, ty))| {
                from_json(json, *ty).map_err(|why| ServiceError::BadRequest(format!("argument {} of `{name}`: {why}", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = CallOptions {
            timeout: Some(timeout),
            capture_output: Some(self.settings.max_output_bytes),
            max_array_bytes: Some(self.settings.max_array_bytes),
            max_loads: Some(self.settings.max_loads_per_call),
            ..CallOptions::default()
        };
        let report = code.call_with(name, &args, &options);
        let captured = report.output.unwrap_or_default();
        Ok(CallOutcome {
            result: report.result.map(|v| to_json(&v)).map_err(ServiceError::from),
            stdout: String::from_utf8_lossy(&captured.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&captured.stderr).into_owned(),
            output_truncated: captured.truncated,
            compiled: report.compiled,
            elapsed_us: report.elapsed.as_micros() as u64,
        })
    }

    /// Stats of every namespace, present and deleted, added up.
    pub fn total_stats(&self) -> (Stats, usize) {
        let mut total = self.retired.lock().clone();
        let all = self.namespaces.read();
        for ns in all.values() {
            total.add(&ns.code.stats());
        }
        (total, all.len())
    }
}

/// Every name `engine`'s namespace knows, as the state file keeps it.
fn names(code: &engine::Namespace) -> Vec<StoredName> {
    let functions = code.functions().into_iter().map(|f| StoredName {
        declaration: f.sig.declaration(&f.name),
        defined: f.state != engine::FunctionState::Undefined,
        name: f.name,
    });
    let externs = code.externs().into_iter().map(|(name, sig)| StoredName { declaration: sig.declaration(&name), defined: true, name });
    functions.chain(externs).collect()
}
