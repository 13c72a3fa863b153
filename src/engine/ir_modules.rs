//! LLVM IR modules: added, replaced and removed like Ore modules, each of their
//! functions compiled at its first call.
//!
//! Each function `F` of an IR module is a lazy reexport of `F.ore_body`, a unit
//! that cuts `F` out of the module's bitcode (everything else becomes a
//! declaration) and compiles it; so calls inside the module stay lazy. Ore code
//! calls `F` through a slot of its own (`abi::extern_slot_key`), which holds the
//! stub of `F`'s current definition, so a replacement or removal is a store, as for
//! Ore functions. Other IR modules link to `F`'s stub directly (IR cannot be told
//! to use a slot), so a module whose functions another IR module declares can be
//! neither replaced nor removed while that one stays.

use super::*;

/// An LLVM IR module that was added: its id (for `replace_ir`, `remove_module`)
/// and the functions it defines.
#[derive(Clone, Debug, PartialEq)]
pub struct IrModuleInfo {
    /// The id to replace or unload it with.
    pub id: ModuleId,
    /// The functions it defines, which `extern fn` declarations may name.
    pub functions: Vec<String>,
}

impl Namespace {
    /// Adds an LLVM IR module, textual (`.ll`) or bitcode (`.bc`). Like Ore code, each
    /// of its functions is compiled at its first call; they become callable through
    /// `extern fn` from modules added afterwards. IR is trusted code: it is checked by
    /// LLVM's verifier, not by Ore.
    pub fn add_ir(&self, name: &str, bytes: &[u8]) -> Result<IrModuleInfo, Error> {
        self.inner.add_ir(&self.inner, name, bytes, None)
    }

    /// Replaces IR module `old` by a new one: Ore code calls the new module's
    /// functions from now on, and a function `old` defined that the new one does
    /// not becomes undefined. Refused while another IR module declares one of
    /// `old`'s functions.
    pub fn replace_ir(&self, old: ModuleId, name: &str, bytes: &[u8]) -> Result<IrModuleInfo, Error> {
        self.inner.add_ir(&self.inner, name, bytes, Some(old))
    }
}

impl Inner {
    fn add_ir(&self, me: &Arc<Inner>, name: &str, bytes: &[u8], replacing: Option<ModuleId>) -> Result<IrModuleInfo, Error> {
        self.check_source_size(name, bytes.len())?;
        let (triple, layout) = (self.jit().triple(), self.jit().data_layout());
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
        let declares = module.global_names(false);
        // Python must be running before IR that calls the C-API does, as for Ore code.
        if let Some(py) = declares.iter().find(|n| crate::abi::is_python_symbol(n)) {
            if !self.config.policy.allows_python() {
                return Err(Error::External(format!("{name}: `{py}` is not allowed here: this engine does not allow Python")));
            }
            runtime::python::ensure_initialized();
        }
        let id = ModuleId(self.next_id.fetch_add(1, Relaxed));
        module.externalize_locals(&format!(".ore{}", id.0));
        let functions = module.defined_functions();

        let mut ns = self.tables.write();
        if let Some(old) = replacing {
            let record = ns.ir_modules.get(&old).ok_or(Error::UnknownModule(old))?;
            check_no_dependents(&ns, old, record)?;
        }
        {
            let hosts = self.host_functions.read();
            let taken = functions.iter().find(|f| hosts.get(*f).is_some_and(|h| replacing.is_none() || h.ir != replacing));
            if let Some(f) = taken {
                return Err(Error::External(format!("{name}: symbol `{f}` is already defined by another library or module")));
            }
        }
        let bitcode: Arc<[u8]> = module.to_bitcode().into();
        // It sees the other IR modules' functions (by their stubs), not those of
        // the module it replaces.
        let dylib = self.dylib_seeing(|symbol, h| h.ir.is_none() || (h.ir != replacing && !functions.iter().any(|f| f == symbol)))?;
        let stubs = self.define_ir(me, dylib, name, &module, &functions, bitcode);
        drop(module);
        let stubs = match stubs {
            Ok(stubs) => stubs,
            Err(e) => {
                self.free(vec![dylib]);
                return Err(e);
            }
        };
        self.counters.functions.fetch_add(functions.len() as u64, Relaxed);

        // Install: the new stubs in the host table and in the slots Ore code calls.
        let mut free = Vec::new();
        {
            let mut hosts = self.host_functions.write();
            if let Some(old) = replacing.and_then(|old| ns.ir_modules.remove(&old)) {
                free.extend(self.unload_ir(&mut hosts, old));
            }
            for (f, stub) in functions.iter().zip(&stubs) {
                hosts.insert(f.clone(), HostSymbol { sig: None, address: *stub, ir: Some(id) });
                self.slot(&crate::abi::extern_slot_key(f)).code.store(*stub, std::sync::atomic::Ordering::Release);
                ns.ir_symbols.insert(f.clone());
            }
        }
        let record = IrRecord { name: name.to_string(), dylib, functions: functions.clone(), declares };
        ns.ir_modules.insert(id, record);
        drop(ns);
        self.free(free);
        Ok(IrModuleInfo { id, functions })
    }

    /// Defines `module`'s data and each of its `functions` in `dylib`, lazily;
    /// returns the functions' stubs.
    fn define_ir(
        &self,
        me: &Arc<Inner>,
        dylib: Dylib,
        name: &str,
        module: &crate::llvm::ir::IrModule,
        functions: &[String],
        bitcode: Arc<[u8]>,
    ) -> Result<Vec<usize>, Error> {
        if module.defines_data() {
            let data =
                crate::llvm::ir::IrModule::parse(name, &bitcode, self.jit().triple(), self.jit().data_layout()).map_err(Error::External)?;
            data.retain_only(None, "");
            self.jit().add_module(dylib, data.into_thread_safe_module())?;
        }
        let mut pairs = Vec::with_capacity(functions.len());
        for function in functions {
            let body = format!("{function}.ore_body");
            self.define_ir_body(Arc::downgrade(me), dylib, name, function, &body, bitcode.clone())?;
            pairs.push((function.clone(), body));
        }
        self.jit().define_lazy_entries(dylib, &pairs)?;
        // Creates the stubs only.
        Ok(self.jit().lookup_all(dylib, functions)?)
    }

    /// Unloads IR module `id`: its functions leave the host table, their slots are
    /// emptied, and its code is retired. Caller holds the tables' write lock.
    pub(super) fn remove_ir(&self, ns: &mut Tables, id: ModuleId) -> Result<Vec<Dylib>, Error> {
        let record = ns.ir_modules.get(&id).ok_or(Error::UnknownModule(id))?;
        check_no_dependents(ns, id, record)?;
        let record = ns.ir_modules.remove(&id).expect("looked up above");
        Ok(self.unload_ir(&mut self.host_functions.write(), record))
    }

    /// Takes `record`'s functions out of the host table, empties their slots and
    /// retires its code; returns code that is safe to free already.
    fn unload_ir(&self, hosts: &mut HashMap<String, HostSymbol>, record: IrRecord) -> Vec<Dylib> {
        for f in &record.functions {
            hosts.remove(f);
            self.slot(&crate::abi::extern_slot_key(f)).code.store(0, Relaxed);
        }
        self.reclaimer.retire(record.dylib)
    }

    /// Defines `body` as a unit that cuts function `function` out of an IR module's
    /// bitcode (everything else becomes a declaration) and compiles it.
    fn define_ir_body(
        &self,
        me: Weak<Inner>,
        dylib: Dylib,
        module: &str,
        function: &str,
        body: &str,
        bitcode: Arc<[u8]>,
    ) -> Result<(), Error> {
        let (module, function, symbol) = (module.to_string(), function.to_string(), body.to_string());
        let materializer = Box::new(move |mr: MaterializationResponsibility| {
            let Some(inner) = me.upgrade() else { return mr.fail() };
            stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || {
                let _span = tracing::debug_span!("materialize", function = %function, module = %module).entered();
                let start = Instant::now();
                let ir = match crate::llvm::ir::IrModule::parse(&symbol, &bitcode, inner.jit().triple(), inner.jit().data_layout()) {
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
                let _glue = inner.engine.glue.lock();
                inner.compile(&function, irgen, mr, ir, super::materialize::Build::standard(inner.config.opt_level), None);
            });
        });
        self.jit().define_materializer(dylib, body, materializer)?;
        Ok(())
    }
}

/// Refuses to replace or remove IR module `id` while another IR module declares
/// one of its functions (it links to them directly).
fn check_no_dependents(ns: &Tables, id: ModuleId, record: &IrRecord) -> Result<(), Error> {
    for (other_id, other) in &ns.ir_modules {
        if *other_id == id {
            continue;
        }
        if let Some(f) = other.declares.iter().find(|d| record.functions.contains(d)) {
            return Err(Error::ModuleInUse { module: record.name.clone(), user: other.name.clone(), function: f.clone() });
        }
    }
    Ok(())
}
