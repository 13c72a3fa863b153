//! External code: shared libraries, object files and LLVM IR modules (the last
//! compiled lazily per function, like Ore code).

use super::*;

impl Namespace {
    /// Loads a shared library (`dlopen`, global scope): its symbols become callable
    /// through `extern fn`. Libraries stay loaded for the life of the process, since
    /// compiled code may call into them.
    pub fn load_library(&self, path: &std::path::Path) -> Result<(), Error> {
        runtime::process::load_library(path)
            .map_err(|reason| Error::External(format!("cannot load library `{}`: {reason}", path.display())))?;
        Ok(())
    }

    /// Adds a relocatable object file (`.o`); the functions it exports become
    /// callable through `extern fn` from modules added afterwards. Returns their names.
    pub fn add_object(&self, name: &str, bytes: &[u8]) -> Result<Vec<String>, Error> {
        let inner = &self.inner;
        let symbols =
            crate::llvm::orc::object_symbols(bytes).map_err(|e| Error::External(format!("`{name}` is not an object file: {e}")))?;
        let dylib = inner.external_dylib()?;
        inner.jit().add_object(dylib, bytes, name)?;
        // Looking each up links the object; local symbols are not found, and skipped.
        let found: Vec<(String, usize)> =
            symbols.into_iter().filter_map(|s| inner.jit().lookup_all(dylib, std::slice::from_ref(&s)).ok().map(|a| (s, a[0]))).collect();
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
        let (triple, layout) = (inner.jit().triple(), inner.jit().data_layout());
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
            if !inner.config.policy.allows_python() {
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
            inner.jit().add_module(dylib, data.into_thread_safe_module())?;
        }
        drop(module);
        let mut pairs = Vec::with_capacity(functions.len());
        for function in &functions {
            let body = format!("{function}.ore_body");
            inner.define_ir_body(dylib, name, function, &body, bitcode.clone(), Arc::downgrade(&self.inner))?;
            pairs.push((function.clone(), body));
        }
        inner.jit().define_lazy_entries(dylib, &pairs)?;
        inner.counters.functions.fetch_add(functions.len() as u64, Relaxed);
        // Creates the stubs only.
        let stubs = inner.jit().lookup_all(dylib, &functions)?;
        inner.add_host_symbols(functions.iter().cloned().zip(stubs).collect())?;
        Ok(functions)
    }
}

impl Inner {
    /// Makes `symbols` callable through `extern fn` from modules added afterwards.
    pub(super) fn add_host_symbols(&self, symbols: Vec<(String, usize)>) -> Result<(), Error> {
        let mut hosts = self.host_functions.write();
        if let Some((name, _)) = symbols.iter().find(|(n, _)| hosts.contains_key(n)) {
            return Err(Error::External(format!("symbol `{name}` is already defined by another library or module")));
        }
        for (name, address) in symbols {
            hosts.insert(name, HostSymbol { sig: None, address });
        }
        Ok(())
    }

    /// A new dylib for external code, resolving what it needs among the host
    /// functions registered so far and in the process; it lives as long as the
    /// namespace.
    pub(super) fn external_dylib(&self) -> Result<Dylib, Error> {
        let dylib = self.module_dylib()?;
        self.external_dylibs.lock().push(dylib);
        Ok(dylib)
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
                inner.compile(&function, irgen, mr, ir, inner.config.opt_level);
            });
        });
        self.jit().define_materializer(dylib, body, materializer)?;
        Ok(())
    }
}
