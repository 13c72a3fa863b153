//! Registering host functions: `extern "C"` functions and Rust closures that Ore
//! code calls through `extern fn`.

use super::*;

impl Namespace {
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
        let module = codegen::generate_closure_thunk(&thunk_name, &sig, address, inner.jit().triple(), inner.jit().data_layout());
        let thunk = {
            let mut host_dylib = inner.host_dylib.lock();
            let dylib = match *host_dylib {
                Some(dylib) => dylib,
                None => *host_dylib.insert(inner.module_dylib()?),
            };
            inner.jit().add_module(dylib, module.into_thread_safe_module())?;
            let _glue = inner.engine.glue.lock();
            inner.jit().lookup_all(dylib, std::slice::from_ref(&thunk_name))?[0]
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
}
