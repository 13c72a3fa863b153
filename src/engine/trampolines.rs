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
use crate::types::{ExternSig, FnSig};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::OnceLock;

struct Trampolines {
    /// Held while compiling one: LLJIT's compiler owns a single TargetMachine.
    jit: Mutex<Jit>,
    /// Read on every host call, so lookups share the lock.
    ore: RwLock<HashMap<FnSig, usize>>,
    /// For LLVM IR functions called from the host (`Namespace::ir_func`).
    c: RwLock<HashMap<ExternSig, usize>>,
}

fn shared() -> Result<&'static Trampolines, Error> {
    static SHARED: OnceLock<Result<Trampolines, LlvmError>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        // Codegen level 0: a trampoline is a few loads and one call. No lazy
        // reexports: trampolines are compiled when asked for.
        let jit = Jit::new(0, None)?;
        Ok(Trampolines { jit: Mutex::new(jit), ore: RwLock::default(), c: RwLock::default() })
    });
    shared.as_ref().map_err(|e| Error::Jit(e.clone()))
}

/// The trampoline for Ore functions of signature `sig`, compiled on first use in
/// the process.
pub(super) fn get(sig: &FnSig) -> Result<usize, Error> {
    let shared = shared()?;
    get_or_compile(shared, &shared.ore, sig, |jit| {
        (codegen::generate_trampoline(sig, jit.triple(), jit.data_layout()), codegen::trampoline_symbol(sig))
    })
}

/// The trampoline for C functions of signature `sig`, compiled on first use.
pub(super) fn get_c(sig: &ExternSig) -> Result<usize, Error> {
    let shared = shared()?;
    get_or_compile(shared, &shared.c, sig, |jit| {
        (codegen::generate_c_trampoline(sig, jit.triple(), jit.data_layout()), codegen::c_trampoline_symbol(sig))
    })
}

fn get_or_compile<K: std::hash::Hash + Eq + Clone>(
    shared: &Trampolines,
    table: &RwLock<HashMap<K, usize>>,
    key: &K,
    generate: impl FnOnce(&Jit) -> (crate::llvm::ir::IrModule, String),
) -> Result<usize, Error> {
    if let Some(&address) = table.read().get(key) {
        return Ok(address);
    }
    let jit = shared.jit.lock();
    // Another thread may have compiled it while this one waited.
    if let Some(&address) = table.read().get(key) {
        return Ok(address);
    }
    let (module, symbol) = generate(&jit);
    jit.add_module(jit.main_dylib(), module.into_thread_safe_module())?;
    let address = jit.lookup(&symbol)?;
    table.write().insert(key.clone(), address);
    Ok(address)
}
