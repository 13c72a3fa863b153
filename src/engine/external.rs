//! External code that is not replaced or unloaded: shared libraries and object
//! files (LLVM IR modules are in `ir_modules.rs`).

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
        inner.jit().add_object(dylib, crate::llvm::ir::ObjectFile::named(bytes, &crate::llvm::c_string(name)))?;
        // Looking each up links the object; local symbols are not found, and skipped.
        let found: Vec<(String, usize)> =
            symbols.into_iter().filter_map(|s| inner.jit().lookup_all(dylib, std::slice::from_ref(&s)).ok().map(|a| (s, a[0]))).collect();
        let names = found.iter().map(|(n, _)| n.clone()).collect();
        inner.add_host_symbols(found)?;
        Ok(names)
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
            hosts.insert(name, HostSymbol { sig: None, address, ir: None });
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
}
