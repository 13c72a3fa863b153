//! The JIT memory manager of `shim/memory.cpp` (its comment says why and how):
//! slabs of code memory shared by all of an LLJIT's objects, so that a compiled
//! function costs bytes rather than pages and mappings.
//!
//! Ownership: a `CodeMemory` owns the C++ manager; the LLJIT's object linking
//! layer borrows it, so `Jit` drops its `CodeMemory` after disposing the LLJIT.

use llvm_sys::orc2::{LLVMOrcExecutionSessionRef, LLVMOrcObjectLayerRef};
use std::ffi::{c_char, c_void};

extern "C" {
    fn ore_shim_memory_manager_create() -> *mut c_void;
    fn ore_shim_memory_manager_dispose(manager: *mut c_void);
    fn ore_shim_memory_manager_bytes_in_use(manager: *mut c_void) -> u64;
    fn ore_shim_memory_manager_make_debuggable(manager: *mut c_void);
    fn ore_shim_object_linking_layer(manager: *mut c_void, es: LLVMOrcExecutionSessionRef, triple: *const c_char) -> LLVMOrcObjectLayerRef;
}

/// The layer creator LLJIT calls once, while it is built.
extern "C" fn create_layer(manager: *mut c_void, es: LLVMOrcExecutionSessionRef, triple: *const c_char) -> LLVMOrcObjectLayerRef {
    // SAFETY: LLJIT passes the context we gave it (a live manager) and its session;
    // it takes ownership of the returned layer.
    unsafe { ore_shim_object_linking_layer(manager, es, triple) }
}

pub(super) struct CodeMemory(*mut c_void);

// SAFETY: the C++ manager locks its state on every entry point; it is shared by
// the threads that link through one LLJIT by design.
unsafe impl Send for CodeMemory {}
// SAFETY: as for Send.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// A manager with its first slab mapped, or `None` where slabs cannot be
    /// mapped: LLJIT's own manager is used then.
    pub(super) fn new() -> Option<CodeMemory> {
        // SAFETY: returns a new manager we own, or null.
        let manager = unsafe { ore_shim_memory_manager_create() };
        (!manager.is_null()).then_some(CodeMemory(manager))
    }

    /// What to give `LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator`: the
    /// creator function and its context, this manager, which must outlive the
    /// LLJIT.
    pub(super) fn layer_creator(&self) -> (llvm_sys::orc2::lljit::LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction, *mut c_void) {
        (create_layer, self.0)
    }

    /// Makes code writable where it runs from now on, so that a debugger can
    /// insert breakpoints (it writes them where the code runs).
    pub(super) fn make_debuggable(&self) {
        // SAFETY: the manager is alive while we own it.
        unsafe { ore_shim_memory_manager_make_debuggable(self.0) }
    }

    /// Bytes of code and data linked and not yet freed.
    pub(super) fn bytes_in_use(&self) -> u64 {
        // SAFETY: the manager is alive while we own it.
        unsafe { ore_shim_memory_manager_bytes_in_use(self.0) }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        // SAFETY: ours, and (see the module comment) no longer used by an LLJIT.
        unsafe { ore_shim_memory_manager_dispose(self.0) }
    }
}
