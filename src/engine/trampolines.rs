//! Host-entry trampolines, shared by every engine of the process.
//!
//! A trampoline depends only on a signature: it unpacks 8-byte argument slots and
//! calls through the function pointer it is given. So one per signature serves all
//! engines, and compiling one (about 1 ms) is paid once per process instead of once
//! per engine, which matters when engines are created often (server namespaces).
//! They live in an LLJIT of their own, for the life of the process, like code in a
//! static library. Its Mutex keeps threads out of that LLJIT's compiler (one
//! TargetMachine) one at a time; the table of compiled ones is an RwLock read on
//! every host call. Order: `jit`, then `compiled`; nothing else is taken under
//! either.

use super::Error;
use crate::codegen;
use crate::llvm::orc::Jit;
use crate::llvm::LlvmError;
use crate::types::FnSig;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::OnceLock;

struct Trampolines {
    /// Held while compiling one: LLJIT's compiler owns a single TargetMachine.
    jit: Mutex<Jit>,
    /// Read on every host call, so lookups share the lock.
    compiled: RwLock<HashMap<FnSig, usize>>,
}

/// The trampoline for `sig`, compiled on first use in the process.
pub(super) fn get(sig: &FnSig) -> Result<usize, Error> {
    static SHARED: OnceLock<Result<Trampolines, LlvmError>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        // Codegen level 0: a trampoline is a few loads and one call. No lazy
        // reexports: trampolines are compiled when asked for.
        let jit = Jit::new(0, None)?;
        Ok(Trampolines { jit: Mutex::new(jit), compiled: RwLock::default() })
    });
    let shared = shared.as_ref().map_err(|e| Error::Jit(e.clone()))?;
    if let Some(&address) = shared.compiled.read().get(sig) {
        return Ok(address);
    }
    let jit = shared.jit.lock();
    // Another thread may have compiled it while this one waited.
    if let Some(&address) = shared.compiled.read().get(sig) {
        return Ok(address);
    }
    let module = codegen::generate_trampoline(sig, jit.triple(), jit.data_layout());
    jit.add_module(jit.main_dylib(), module.into_thread_safe_module())?;
    let address = jit.lookup(&codegen::trampoline_symbol(sig))?;
    shared.compiled.write().insert(sig.clone(), address);
    Ok(address)
}
