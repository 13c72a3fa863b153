//! A namespace: functions and their slots, modules, host functions, policy and
//! limits; what one tenant or program sees. Its code lives in the engine's LLJIT,
//! in dylibs only it uses.

use super::*;

pub(super) struct HostSymbol {
    /// Registered host functions have one; other symbols take the declaration's.
    pub(super) sig: Option<ExternSig>,
    pub(super) address: usize,
    /// The LLVM IR module that defines it, if one does: Ore code calls it through a
    /// slot (`abi::extern_slot_key`), so that the module can be replaced or removed.
    pub(super) ir: Option<ModuleId>,
}

/// Identifies a module added to an engine (for `remove_module`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(pub(super) u64);

/// A module that was added: its id and what it defines and declares.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleInfo {
    /// The id to unload it with (`remove_module`).
    pub id: ModuleId,
    /// What it defines or declares, with their signatures.
    pub functions: Vec<(String, FnSig)>,
}

/// What every call to a function goes through. Owned by the engine and never freed
/// before it, because linked code holds its address (its `abi::slot_symbol`).
#[derive(Default)]
#[repr(C)]
pub(super) struct Slot {
    /// The address to call; 0 while the current definition is not compiled (or
    /// there is none).
    pub(super) code: AtomicUsize,
    /// The number of the current definition (0: none); inlined copies of the
    /// function check it (`abi::slot::DEFINITION`).
    pub(super) definition: AtomicU64,
    /// Calls from the host, all definitions together (not read by generated code).
    pub(super) calls: AtomicU64,
    /// Tier-0 code counts its calls down here (`Config::tiering`); set to the
    /// namespace's `hot_calls` with each new definition.
    pub(super) countdown: std::sync::atomic::AtomicI64,
    /// The address of the current definition's table of loop entries, once its
    /// top tier is linked (`abi::osr_table`); 0 before.
    pub(super) osr_table: AtomicUsize,
}

const _: () = assert!(std::mem::offset_of!(Slot, code) == crate::abi::slot::CODE);
const _: () = assert!(std::mem::offset_of!(Slot, definition) == crate::abi::slot::DEFINITION);
const _: () = assert!(std::mem::offset_of!(Slot, countdown) == crate::abi::slot::COUNTDOWN);
const _: () = assert!(std::mem::offset_of!(Slot, osr_table) == crate::abi::slot::OSR_TABLE);

impl Slot {
    /// Makes the slot stand for definition `number` (0: none), not compiled
    /// yet, with a fresh countdown. Under the namespace write lock.
    pub(super) fn redefine(&self, number: u64, hot_calls: i64) {
        self.code.store(0, Relaxed);
        self.osr_table.store(0, Relaxed);
        // Release, after the code is emptied: code that sees the new number
        // never finds the old code in the slot (`forward_if_replaced`).
        self.definition.store(number, std::sync::atomic::Ordering::Release);
        self.countdown.store(hot_calls, Relaxed);
    }
}

/// One definition of a function, by one module.
pub(super) struct Version {
    pub(super) symbol: String,
    /// Unique in the engine; what the slot's `definition` word holds while current.
    pub(super) number: u64,
    /// Kept for callers in the same module to copy, if small enough.
    pub(super) inline: Option<Arc<tir::Function>>,
    pub(super) module: ModuleId,
    /// The module's dylib and the link-time symbols (slots, definition numbers)
    /// defined in it so far, shared by its versions: each is defined when the
    /// first code that refers to it is compiled.
    pub(super) link_symbols: Arc<(Dylib, Mutex<std::collections::HashSet<String>>)>,
    pub(super) level: OptLevel,
    pub(super) compiled: AtomicBool,
    /// IR generation to linking, once compiled.
    pub(super) compile_us: AtomicU64,
    /// Which code the version runs, once compiled (`tiering::Tier`).
    pub(super) tier: std::sync::atomic::AtomicU8,
    /// The body, kept from a tier-0 compile for the top tier's; taken by the one
    /// tier-up.
    pub(super) tier_up_body: Mutex<Option<Arc<tir::Function>>>,
    /// The body until the version's unit is defined in its dylib (`Inner::define_unit`):
    /// at its first call, so that a module of 10,000 functions of which one runs
    /// defines one unit in ORC, not 10,000.
    pub(super) undefined_body: Mutex<Option<Arc<tir::Function>>>,
}

pub(super) struct FunctionEntry {
    pub(super) sig: FnSig,
    /// Where the function was first declared or defined.
    pub(super) origin: crate::diagnostics::Origin,
    pub(super) slot: Arc<Slot>,
    pub(super) current: Option<Arc<Version>>,
}

pub(super) struct ModuleRecord {
    /// Holds all of the module's code.
    pub(super) dylib: Dylib,
    /// Added by `load`: nobody can name it to remove it, so its record goes once
    /// all its functions are replaced.
    pub(super) anonymous: bool,
    pub(super) versions: Vec<(String, Arc<Version>)>,
    /// How many of `versions` are still the current definition; at 0 the code is
    /// retired.
    pub(super) live: usize,
}

/// The symbol tables of a namespace.
#[derive(Default)]
pub(super) struct Tables {
    pub(super) functions: HashMap<String, FunctionEntry>,
    pub(super) externs: HashMap<String, ExternSig>,
    pub(super) modules: HashMap<ModuleId, ModuleRecord>,
    pub(super) ir_modules: HashMap<ModuleId, IrRecord>,
    /// Every symbol an LLVM IR module has defined; only grows. Ore code calls
    /// these through their slots, whatever defines them now.
    pub(super) ir_symbols: std::collections::HashSet<String>,
}

/// An LLVM IR module that was added.
pub(super) struct IrRecord {
    /// The name it was added under, for errors.
    pub(super) name: String,
    /// Holds all of its code.
    pub(super) dylib: Dylib,
    pub(super) functions: Vec<String>,
    /// The symbols it declares, which may be other IR modules' functions: those
    /// cannot go while it stays (it links to them directly).
    pub(super) declares: Vec<String>,
}

/// A namespace's state. Its dylibs go back to the engine when it drops (see Drop).
pub(super) struct Inner {
    pub(super) engine: Arc<Shared>,
    pub(super) config: Config,
    pub(super) tables: RwLock<Tables>,
    /// Slot of every function name ever seen; only grows.
    pub(super) slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// C symbols modules may call besides the process's: registered host functions
    /// (with their signature) and functions of added object files and IR modules.
    pub(super) host_functions: RwLock<HashMap<String, HostSymbol>>,
    /// Holds the thunks of registered closures, once there is one.
    pub(super) host_dylib: Mutex<Option<Dylib>>,
    /// Hold added object files and IR modules, which are never unloaded.
    pub(super) external_dylibs: Mutex<Vec<Dylib>>,
    /// Closures registered as host functions; boxed so their addresses, baked into
    /// their thunks, never change when the Vec grows. Freed after `host_dylib`.
    #[allow(clippy::vec_box)]
    pub(super) closures: Mutex<Vec<Box<runtime::HostClosure>>>,
    pub(super) reclaimer: Reclaimer<Dylib>,
    /// The object cache of `Config::cache_dir`, if it could be opened.
    pub(super) cache: Option<Arc<ObjectCache>>,
    /// With `Config::profile`: every compilation, in order.
    pub(super) compile_records: Mutex<Vec<CompileRecord>>,
    /// With `Config::keep_code`: by function, its latest compile's text.
    pub(super) code: Mutex<HashMap<String, Arc<CompiledCode>>>,
    /// Held by `evaluate` from defining its wrapper to unloading it, so that two
    /// threads' evaluations never run each other's input.
    pub(super) evaluation: ReentrantMutex<()>,
    /// Numbers modules and versions.
    pub(super) next_id: AtomicU64,
    pub(super) counters: Counters,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Nothing runs the namespace's code any more (a call holds the namespace):
        // clear every dylib it has, before the closures its thunks call are freed.
        let tables = self.tables.get_mut();
        let mut dylibs: Vec<Dylib> = tables.modules.values().filter(|m| m.live > 0).map(|m| m.dylib).collect();
        dylibs.extend(tables.ir_modules.values().map(|m| m.dylib));
        dylibs.extend(self.reclaimer.take_all());
        dylibs.append(self.external_dylibs.get_mut());
        dylibs.extend(self.host_dylib.get_mut().take());
        self.engine.free(dylibs);
    }
}

/// Functions, modules and host functions, in one engine: what one program or tenant
/// sees. `Send + Sync`; clones are handles to the same namespace.
#[derive(Clone)]
pub struct Namespace {
    pub(super) inner: Arc<Inner>,
}

impl Namespace {
    /// A new namespace of the process's default engine (`Engine::process_default`).
    pub fn new(config: Config) -> Result<Namespace, Error> {
        Engine::process_default()?.namespace(config)
    }

    pub(super) fn with_engine(engine: Arc<Shared>, mut config: Config) -> Namespace {
        static FROM_ENV: OnceLock<bool> = OnceLock::new();
        config.debug_info |= *FROM_ENV.get_or_init(|| std::env::var_os("ORE_DEBUG").is_some_and(|v| v == "1"));
        if config.debug_info {
            engine.enable_debugger();
        }
        let cache = engine.cache(&config);
        let inner = Inner {
            engine,
            config,
            cache,
            tables: RwLock::default(),
            slots: Mutex::default(),
            host_functions: RwLock::default(),
            host_dylib: Mutex::default(),
            external_dylibs: Mutex::default(),
            closures: Mutex::default(),
            reclaimer: Reclaimer::default(),
            compile_records: Mutex::default(),
            code: Mutex::default(),
            evaluation: ReentrantMutex::new(()),
            next_id: AtomicU64::new(1),
            counters: Counters::default(),
        };
        Namespace { inner: Arc::new(inner) }
    }

    /// The engine the namespace's code lives in.
    pub fn engine(&self) -> Engine {
        Engine { shared: self.inner.engine.clone() }
    }

    /// The configuration the namespace was created with.
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

    /// `add_module` of a file already read (its name and text).
    pub(super) fn add_file(&self, file: SourceFile) -> Result<ModuleInfo, Error> {
        self.add(file, false, self.inner.config.opt_level, false)
    }

    /// Like `add_module`, but also requires a `main` that `ore run` can call.
    pub fn add_program(&self, file: SourceFile) -> Result<ModuleInfo, Error> {
        self.add(file, true, self.inner.config.opt_level, false)
    }

    fn add(&self, file: SourceFile, require_main: bool, level: OptLevel, anonymous: bool) -> Result<ModuleInfo, Error> {
        let inner = &self.inner;
        // Kept by the module's functions, to locate their runtime errors.
        let file = Arc::new(file);
        let limits = &inner.config.limits;
        let _span = tracing::debug_span!("add_module", module = file.name()).entered();
        let items = inner.parse(&file)?;
        let mut ns = inner.tables.write();
        let checked = inner.check(items, &file, &ns, check::Options { require_main, ..check::Options::default() })?;
        if checked.uses_python {
            // Before any of the module's code can run.
            runtime::python::ensure_initialized();
        }

        let new_names = checked.signatures.iter().filter(|s| !ns.functions.contains_key(&s.name)).count();
        if ns.functions.len() + new_names > limits.max_functions {
            return Err(Error::limit(
                Limit::Functions,
                format!(
                    "{}: the namespace would hold {} functions, over the limit of {}",
                    file.name(),
                    ns.functions.len() + new_names,
                    limits.max_functions
                ),
            ));
        }
        let id = ModuleId(inner.next_id.fetch_add(1, Relaxed));
        let mut new_externs = Vec::new();
        for (name, sig) in &checked.externs {
            if ns.externs.insert(name.clone(), sig.clone()).is_none() {
                new_externs.push(name);
            }
        }
        let mut entered = Vec::new();
        let file_name: Arc<str> = file.name().into();
        for s in &checked.signatures {
            if let std::collections::hash_map::Entry::Vacant(new) = ns.functions.entry(s.name.clone()) {
                entered.push(s.name.clone());
                new.insert(FunctionEntry {
                    sig: s.sig.clone(),
                    origin: file.origin(&file_name, s.span.start),
                    slot: inner.slot(&s.name),
                    current: None,
                });
            }
        }
        let record = match inner.define_versions(id, level, checked.functions) {
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
            let compiled = inner.jit().lookup_all(dylib, &symbols).map_err(Error::from).and_then(|_| {
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
        let mut ns = inner.tables.write();
        if ns.ir_modules.contains_key(&id) {
            let free = inner.remove_ir(&mut ns, id)?;
            drop(ns);
            inner.free(free);
            return Ok(());
        }
        let record = ns.modules.remove(&id).ok_or(Error::UnknownModule(id))?;
        for (name, version) in &record.versions {
            if let Some(entry) = ns.functions.get_mut(name) {
                if entry.current.as_ref().is_some_and(|v| Arc::ptr_eq(v, version)) {
                    entry.current = None;
                    entry.slot.redefine(0, 0);
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
        let mut ns = inner.tables.write();
        let entry = ns.functions.get_mut(name).ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
        let Some(old) = entry.current.take() else { return Ok(()) };
        entry.slot.redefine(0, 0);
        let free = inner.release(&mut ns, &old);
        drop(ns);
        inner.free(free);
        Ok(())
    }

    /// The signature of a function of the namespace.
    pub fn function(&self, name: &str) -> Option<FnSig> {
        self.inner.tables.read().functions.get(name).map(|f| f.sig.clone())
    }

    /// Every `extern fn` the namespace's modules have declared, by name.
    pub fn externs(&self) -> Vec<(String, ExternSig)> {
        let mut list: Vec<_> = self.inner.tables.read().externs.iter().map(|(n, s)| (n.clone(), s.clone())).collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Whether the current definition of `name` has been compiled.
    pub fn is_compiled(&self, name: &str) -> bool {
        let ns = self.inner.tables.read();
        let current = ns.functions.get(name).and_then(|f| f.current.as_ref());
        current.is_some_and(|v| v.compiled.load(Relaxed))
    }

    /// Every function of the namespace, by name.
    pub fn functions(&self) -> Vec<FunctionInfo> {
        let ns = self.inner.tables.read();
        let mut list: Vec<FunctionInfo> = ns
            .functions
            .iter()
            .map(|(name, f)| {
                let (state, compile_us, tier) = match &f.current {
                    None => (FunctionState::Undefined, 0, None),
                    Some(v) if v.compiled.load(Relaxed) => {
                        (FunctionState::Compiled, v.compile_us.load(Relaxed), Some(Tier::from_u8(v.tier.load(Relaxed))))
                    }
                    Some(_) => (FunctionState::Lazy, 0, None),
                };
                let calls = f.slot.calls.load(Relaxed);
                FunctionInfo { name: name.clone(), sig: f.sig.clone(), state, compile_us, calls, tier }
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Counters since the namespace was created.
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
            cache_hits: c.cache_hits.load(Relaxed),
            cache_misses: c.cache_misses.load(Relaxed),
            tier_0_compiled: c.tier_0_compiled.load(Relaxed),
            tier_ups: c.tier_ups.load(Relaxed),
            tier_up_us: c.tier_up_us.load(Relaxed),
            loop_entries: c.loop_entries.load(Relaxed),
            compile_buckets: c.compile_buckets.iter().map(|b| b.load(Relaxed)).collect(),
        }
    }

    /// With `Config::profile`, where the time of each compilation so far went.
    pub fn compile_records(&self) -> Vec<CompileRecord> {
        self.inner.compile_records.lock().clone()
    }

    /// With `Config::keep_code`, the optimised IR and assembly of the latest
    /// compile of function `name`; `None` before its first compile.
    pub fn code(&self, name: &str) -> Option<Arc<CompiledCode>> {
        self.inner.code.lock().get(name).cloned()
    }

    /// Waits until every tier-up queued so far (`Config::tiering`; by any
    /// namespace of the process: the compile threads are shared) is compiled and
    /// in its slot, or was dropped as stale; false if that took over `timeout`.
    /// For tests and benchmarks that need to know which tier runs.
    pub fn wait_for_tier_ups(&self, timeout: std::time::Duration) -> bool {
        super::tiering::wait_for_tier_ups(timeout)
    }

    /// Replaced or unloaded code still waiting for running calls to end.
    pub fn code_awaiting_release(&self) -> usize {
        self.inner.reclaimer.pending()
    }
}

impl RuntimeHost for Namespace {
    fn resolve(&self, name: &str) -> Result<usize, RuntimeError> {
        self.inner.resolve(name)
    }

    fn resolve_extern(&self, symbol: &str) -> Result<usize, RuntimeError> {
        let hosts = self.inner.host_functions.read();
        hosts.get(symbol).filter(|h| h.ir.is_some()).map(|h| h.address).ok_or_else(|| RuntimeError::UndefinedFunction(symbol.to_string()))
    }

    fn tier_up(&self, name: &str, at_loop: Option<usize>) {
        self.inner.queue_tier_up(name, at_loop, Arc::downgrade(&self.inner));
    }

    fn osr_entered(&self, name: &str) {
        self.inner.counters.loop_entries.fetch_add(1, Relaxed);
        tracing::debug!(function = name, "call moved into the top tier at a loop");
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

impl Inner {
    /// Parses a module, within the namespace's limits.
    pub(super) fn parse(&self, file: &SourceFile) -> Result<Vec<syntax::ast::Item>, Error> {
        self.check_source_size(file.name(), file.text().len())?;
        let start = Instant::now();
        let _span = tracing::debug_span!("parse").entered();
        let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?;
        syntax::check_nesting(&items, self.config.limits.max_nesting).map_err(|d| file.error(vec![d]))?;
        self.counters.parse_us.fetch_add(micros(start), Relaxed);
        Ok(items)
    }

    /// Checks a parsed module against the namespace's tables (`options` says what
    /// else to require; Python follows the policy).
    pub(super) fn check(
        &self,
        items: Vec<syntax::ast::Item>,
        file: &Arc<SourceFile>,
        tables: &Tables,
        options: check::Options,
    ) -> Result<check::CheckedModule, Error> {
        let start = Instant::now();
        let _span = tracing::debug_span!("check").entered();
        let env = NamespaceEnv { ns: tables, host: &self.host_functions.read(), policy: &self.config.policy };
        let options = check::Options { allow_python: self.config.policy.allows_python(), ..options };
        let checked = check::check_module(items, file, &env, &options).map_err(|d| file.error(d))?;
        self.counters.check_us.fetch_add(micros(start), Relaxed);
        Ok(checked)
    }

    /// `Limits::max_source_bytes`, for Ore and IR modules alike.
    pub(super) fn check_source_size(&self, name: &str, len: usize) -> Result<(), Error> {
        let max = self.config.limits.max_source_bytes;
        if len > max {
            return Err(Error::limit(Limit::SourceBytes, format!("{name}: the source is {len} bytes, over the limit of {max}")));
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
    pub(super) fn resolve(self: &Arc<Self>, name: &str) -> Result<usize, RuntimeError> {
        let current = |ns: &Tables| {
            let entry = ns.functions.get(name)?;
            let version = entry.current.clone()?;
            let dylib = ns.modules.get(&version.module)?.dylib;
            Some((version, dylib, entry.slot.clone()))
        };
        let (version, dylib, slot) = current(&self.tables.read()).ok_or_else(|| RuntimeError::UndefinedFunction(name.to_string()))?;
        // The caller holds an epoch: the dylib stays this module's while it does.
        self.define_unit(&version).map_err(|e| RuntimeError::Internal(format!("`{name}` could not be defined: {e}")))?;
        let found = self.jit().lookup_all(dylib, std::slice::from_ref(&version.symbol));
        let address = found.map_err(|e| RuntimeError::Internal(format!("`{name}` could not be compiled: {e}")))?[0];
        // Publish only if this is still the current definition: a redefinition
        // (under the write lock) empties the slot, and must not be undone here.
        let ns = self.tables.read();
        if current(&ns).is_some_and(|(v, _, _)| Arc::ptr_eq(&v, &version)) {
            // Release: whoever loads the address also sees the linked code. Only
            // into an empty slot: a filled one has this version's code already,
            // possibly its top tier, which must not go back to tier 0.
            let _ = slot.code.compare_exchange(0, address, std::sync::atomic::Ordering::Release, Relaxed);
        }
        Ok(address)
    }

    pub(super) fn slot(&self, name: &str) -> Arc<Slot> {
        self.slots.lock().entry(name.to_string()).or_default().clone()
    }

    pub(super) fn jit(&self) -> &Jit {
        &self.engine.jit
    }

    /// Clears retired dylibs (freeing their code) and gives them back to the engine.
    pub(super) fn free(&self, dylibs: Vec<Dylib>) {
        self.engine.free(dylibs)
    }

    /// An empty dylib for Ore code, seeing the runtime, the host functions and the
    /// process's symbols. LLVM IR functions are left out: Ore code calls those
    /// through their slots.
    pub(super) fn module_dylib(&self) -> Result<Dylib, Error> {
        self.dylib_seeing(|_, h| h.ir.is_none())
    }

    /// An empty dylib seeing the runtime, the process's symbols and the host
    /// functions `visible` accepts.
    pub(super) fn dylib_seeing(&self, visible: impl Fn(&str, &HostSymbol) -> bool) -> Result<Dylib, Error> {
        let dylib = self.engine.dylib("module")?;
        let mut symbols = runtime::symbols();
        let hosts = self.host_functions.read();
        symbols.extend(hosts.iter().filter(|(name, h)| visible(name, h)).map(|(name, h)| (name.as_str(), h.address)));
        if let Err(e) = self.jit().define_absolute(dylib, &symbols) {
            self.free(vec![dylib]);
            return Err(e.into());
        }
        Ok(dylib)
    }

    /// Makes a new version of each function, in a new dylib whose units the first
    /// calls define (`define_unit`; no stub: callers go through the slot). Caller
    /// holds the namespace write lock.
    fn define_versions(self: &Arc<Self>, id: ModuleId, level: OptLevel, functions: Vec<tir::Function>) -> Result<ModuleRecord, Error> {
        let dylib = self.module_dylib()?;
        let record = self.define_in(dylib, id, level, functions);
        if record.is_err() {
            self.free(vec![dylib]);
        }
        record
    }

    fn define_in(
        self: &Arc<Self>,
        dylib: Dylib,
        id: ModuleId,
        level: OptLevel,
        functions: Vec<tir::Function>,
    ) -> Result<ModuleRecord, Error> {
        let mut versions = Vec::with_capacity(functions.len());
        let link_symbols = Arc::new((dylib, Mutex::default()));
        // Eager compiles look every symbol up at once, and direct calls link
        // against their callees' symbols: both need every unit defined now.
        let define_now = self.config.eager || self.config.unchecked.direct_calls;
        for func in functions {
            let number = self.next_id.fetch_add(1, Relaxed);
            let func = Arc::new(func);
            let version = Arc::new(Version {
                symbol: crate::abi::function_symbol(&func.name),
                number,
                inline: codegen::inline::is_candidate(&func).then(|| func.clone()),
                module: id,
                link_symbols: link_symbols.clone(),
                level,
                compiled: AtomicBool::new(false),
                compile_us: AtomicU64::new(0),
                tier: Default::default(),
                tier_up_body: Mutex::default(),
                undefined_body: Mutex::new(Some(func.clone())),
            });
            if define_now {
                self.define_unit(&version)?;
            }
            versions.push((func.name.clone(), version));
        }
        self.counters.functions.fetch_add(versions.len() as u64, Relaxed);
        let live = versions.len();
        Ok(ModuleRecord { dylib, anonymous: false, versions, live })
    }

    /// Makes a module's versions the current definitions; returns replaced code that
    /// is already safe to free.
    fn install(&self, ns: &mut Tables, id: ModuleId, record: ModuleRecord) -> Vec<Dylib> {
        let mut free = Vec::new();
        for (name, version) in &record.versions {
            let entry = ns.functions.get_mut(name).expect("signatures were entered first");
            // Empty: the first call compiles the new version (`Inner::resolve`).
            entry.slot.redefine(version.number, self.config.tiering.map_or(0, |t| t.hot_calls.max(1).into()));
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
    fn release(&self, ns: &mut Tables, old: &Version) -> Vec<Dylib> {
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
}
