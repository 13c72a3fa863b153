//! ORCv2 through LLJIT: the session, JITDylibs, lazy reexports, custom
//! materialization units, and emitting object files we compiled ourselves.
//!
//! Ownership, as the C API defines it:
//! - `Jit` owns the LLJIT, the lazy call-through manager (LCTM) and the indirect
//!   stubs manager (ISM). Drop disposes the ISM and LCTM *before* the LLJIT: the other
//!   order is a use-after-free (the managers reference the session).
//! - JITDylibs belong to the session; a `Dylib` is a plain handle valid while its
//!   `Jit` lives.
//! - Interned names passed to `LLVMOrcAbsoluteSymbols`, `LLVMOrcLazyReexports` and
//!   `LLVMOrcCreateCustomMaterializationUnit` are owned by the callee afterwards.
//! - A materialization unit belongs to its JITDylib once `LLVMOrcJITDylibDefine`
//!   succeeds, to us (to dispose) if it fails.
//! - A `MaterializationResponsibility` must be emitted or failed exactly once; the
//!   wrapper fails it on drop if nobody emitted it.

use super::ir::{ObjectFile, ThreadSafeModule};
use super::target::host_target_machine;
use super::{c_string, check, owned_message, LlvmError};
use llvm_sys::orc2::lljit::*;
use llvm_sys::orc2::*;
use std::ffi::{c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Generates and emits the code for a lazily defined symbol, once, on first lookup.
pub type Materializer = Box<dyn FnOnce(MaterializationResponsibility) + Send>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dylib(LLVMOrcJITDylibRef);

// SAFETY: JITDylib operations are internally synchronised by the ExecutionSession.
unsafe impl Send for Dylib {}
// SAFETY: as for Send: a Dylib is a handle, and every use goes through the session.
unsafe impl Sync for Dylib {}

pub struct Jit {
    lljit: LLVMOrcLLJITRef,
    /// For lazy reexports, when asked for (null otherwise).
    lctm: LLVMOrcLazyCallThroughManagerRef,
    ism: LLVMOrcIndirectStubsManagerRef,
    triple: CString,
    data_layout: CString,
    /// Where the LLJIT links code, if slabs could be mapped; dropped after it.
    memory: Option<super::memory::CodeMemory>,
}

// SAFETY: LLJIT, the session, and the stub/call-through managers are designed for
// concurrent use (ORC locks internally); the raw pointers are only used through them.
unsafe impl Send for Jit {}
// SAFETY: as for Send: shared use is concurrent use of objects ORC locks.
unsafe impl Sync for Jit {}

extern "C" fn report_session_error(_ctx: *mut c_void, err: llvm_sys::error::LLVMErrorRef) {
    if let Err(e) = check(err) {
        tracing::error!(target: "ore::jit", "ORC session error: {e}");
    }
}

const EXPORTED_CALLABLE: LLVMJITSymbolFlags = LLVMJITSymbolFlags {
    GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported as u8
        | LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsCallable as u8,
    TargetFlags: 0,
};

impl Jit {
    /// Builds an LLJIT for the host. LLJIT's own compiler, at `codegen_level`
    /// (0-3), compiles only what goes through `add_module` (small glue code);
    /// functions are compiled by `ir::IrModule` and handed over with `emit_object`.
    /// With a `lazy_call_error_handler` (a real function, where a failed lazy call
    /// jumps), it also supports lazy reexports (`define_lazy_entries`).
    pub fn new(codegen_level: u8, lazy_call_error_handler: Option<usize>) -> Result<Jit, LlvmError> {
        let mut lljit = std::ptr::null_mut();
        let memory = super::memory::CodeMemory::new();
        if memory.is_none() {
            tracing::warn!(target: "ore::jit", "cannot map JIT code slabs: each function takes pages of its own");
        }
        // SAFETY: the target machine moves into the JTMB, the JTMB into the builder,
        // and LLVMOrcCreateLLJIT takes the builder, success or not. The layer
        // creator's context, `memory`, is kept in the Jit and outlives the LLJIT.
        check(unsafe {
            let builder = LLVMOrcCreateLLJITBuilder();
            let jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(host_target_machine(codegen_level));
            LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
            if let Some(memory) = &memory {
                let (creator, context) = memory.layer_creator();
                LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, creator, context);
            }
            LLVMOrcCreateLLJIT(&mut lljit, builder)
        })?;
        // SAFETY: the LLJIT is valid; strings it returns live as long as it does, and
        // we copy them.
        let (triple, data_layout) = unsafe {
            let es = LLVMOrcLLJITGetExecutionSession(lljit);
            LLVMOrcExecutionSessionSetErrorReporter(es, report_session_error, std::ptr::null_mut());
            (CStr::from_ptr(LLVMOrcLLJITGetTripleString(lljit)).to_owned(), CStr::from_ptr(LLVMOrcLLJITGetDataLayoutStr(lljit)).to_owned())
        };
        let mut jit = Jit { lljit, lctm: std::ptr::null_mut(), ism: std::ptr::null_mut(), triple, data_layout, memory };
        if let Some(handler) = lazy_call_error_handler {
            // SAFETY: the managers are ours to dispose (see Drop); the session is
            // the LLJIT's, alive.
            unsafe {
                jit.ism = LLVMOrcCreateLocalIndirectStubsManager(jit.triple.as_ptr());
                check(LLVMOrcCreateLocalLazyCallThroughManager(
                    jit.triple.as_ptr(),
                    LLVMOrcLLJITGetExecutionSession(lljit),
                    handler as u64,
                    &mut jit.lctm,
                ))?;
            }
        }
        Ok(jit)
    }

    /// Bytes of linked code and data not yet freed, when the slab memory manager
    /// is in use.
    pub fn code_bytes_in_use(&self) -> Option<u64> {
        self.memory.as_ref().map(|m| m.bytes_in_use())
    }

    pub fn triple(&self) -> &CStr {
        &self.triple
    }

    pub fn data_layout(&self) -> &CStr {
        &self.data_layout
    }

    pub fn main_dylib(&self) -> Dylib {
        // SAFETY: the main JITDylib lives as long as the LLJIT.
        Dylib(unsafe { LLVMOrcLLJITGetMainJITDylib(self.lljit) })
    }

    /// Interns a name; the caller owns one reference to the returned entry.
    fn intern(&self, name: &str) -> LLVMOrcSymbolStringPoolEntryRef {
        let cname = c_string(name);
        // SAFETY: returns a retained pool entry.
        unsafe { LLVMOrcLLJITMangleAndIntern(self.lljit, cname.as_ptr()) }
    }

    /// Defines `mu` in `dylib`, disposing of it if the definition fails.
    fn define(&self, dylib: Dylib, mu: LLVMOrcMaterializationUnitRef) -> Result<(), LlvmError> {
        // SAFETY: on success the dylib owns the MU; on failure we still do.
        let result = check(unsafe { LLVMOrcJITDylibDefine(dylib.0, mu) });
        if result.is_err() {
            // SAFETY: the definition failed, so the unit is still ours, disposed once.
            unsafe { LLVMOrcDisposeMaterializationUnit(mu) };
        }
        result
    }

    /// Makes every symbol the process exports (libc, the host's `-rdynamic`
    /// functions, loaded libraries) resolvable from `dylib`.
    pub fn add_process_symbols(&self, dylib: Dylib) -> Result<(), LlvmError> {
        let mut generator = std::ptr::null_mut();
        // SAFETY: the new generator is ours until AddGenerator takes it; a generator
        // instance belongs to exactly one JITDylib.
        unsafe {
            let prefix = LLVMOrcLLJITGetGlobalPrefix(self.lljit);
            check(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&mut generator, prefix, None, std::ptr::null_mut()))?;
            LLVMOrcJITDylibAddGenerator(dylib.0, generator);
        }
        Ok(())
    }

    /// Defines symbols at fixed addresses (runtime support and host functions).
    pub fn define_absolute(&self, dylib: Dylib, symbols: &[(&str, usize)]) -> Result<(), LlvmError> {
        let mut pairs: Vec<LLVMOrcCSymbolMapPair> = symbols
            .iter()
            .map(|(name, addr)| LLVMOrcCSymbolMapPair {
                Name: self.intern(name),
                Sym: LLVMJITEvaluatedSymbol { Address: *addr as u64, Flags: EXPORTED_CALLABLE },
            })
            .collect();
        // SAFETY: the MU takes the interned names; we keep (and free) the array.
        let mu = unsafe { LLVMOrcAbsoluteSymbols(pairs.as_mut_ptr(), pairs.len()) };
        self.define(dylib, mu)
    }

    /// Defines `symbol` as a unit whose code `materialize` produces (through `emit`)
    /// the first time `symbol` is looked up.
    pub fn define_materializer(&self, dylib: Dylib, symbol: &str, materialize: Materializer) -> Result<(), LlvmError> {
        let mut syms = [LLVMOrcCSymbolFlagsMapPair { Name: self.intern(symbol), Flags: EXPORTED_CALLABLE }];
        let ctx = Box::into_raw(Box::new(materialize)).cast::<c_void>();
        let unit_name = c_string(symbol);
        // SAFETY: the MU takes the interned name; `ctx` is freed by exactly one of
        // `materialize_unit` (called) or `destroy_unit` (never called).
        let unit = unsafe {
            LLVMOrcCreateCustomMaterializationUnit(
                unit_name.as_ptr(),
                ctx,
                syms.as_mut_ptr(),
                syms.len(),
                std::ptr::null_mut(),
                materialize_unit,
                discard_symbol,
                destroy_unit,
            )
        };
        self.define(dylib, unit)
    }

    /// Defines each `(entry, target)` pair as a lazy reexport: `entry` is a stub that,
    /// on its first call, looks up `target` (materializing it) and from then on jumps
    /// straight to it. Stubs and targets share one JITDylib because the C API cannot
    /// set a link order between dylibs.
    pub fn define_lazy_entries(&self, dylib: Dylib, pairs: &[(String, String)]) -> Result<(), LlvmError> {
        if self.lctm.is_null() {
            return Err(LlvmError("this JIT was built without lazy reexports".into()));
        }
        // One unit creates all its stubs in one block, and LLVM 19's
        // LocalIndirectStubsManager indexes a block with 16 bits: more than 65536
        // stubs in one unit wrap around and dispatch to the wrong function.
        const MAX_STUBS_PER_UNIT: usize = 8192;
        for chunk in pairs.chunks(MAX_STUBS_PER_UNIT) {
            let mut aliases: Vec<LLVMOrcCSymbolAliasMapPair> = chunk
                .iter()
                .map(|(entry, target)| LLVMOrcCSymbolAliasMapPair {
                    Name: self.intern(entry),
                    Entry: LLVMOrcCSymbolAliasMapEntry { Name: self.intern(target), Flags: EXPORTED_CALLABLE },
                })
                .collect();
            // SAFETY: the reexports MU takes the interned names; LCTM and ISM outlive
            // it (they are disposed only when the Jit is).
            let unit = unsafe { LLVMOrcLazyReexports(self.lctm, self.ism, dylib.0, aliases.as_mut_ptr(), aliases.len()) };
            self.define(dylib, unit)?;
        }
        Ok(())
    }

    /// Adds a relocatable object file to `dylib`; it is linked when one of its
    /// symbols is looked up.
    pub fn add_object(&self, dylib: Dylib, object: ObjectFile) -> Result<(), LlvmError> {
        // SAFETY: LLJIT takes the buffer (even on failure).
        check(unsafe { LLVMOrcLLJITAddObjectFile(self.lljit, dylib.0, object.into_raw()) })
    }

    /// A new, empty JITDylib. The C API cannot destroy a JITDylib (the session
    /// frees them all when it ends), so callers reuse cleared ones.
    pub fn create_dylib(&self, name: &str) -> Dylib {
        let cname = c_string(name);
        // SAFETY: the session owns the new dylib; the name is copied.
        Dylib(unsafe { LLVMOrcExecutionSessionCreateBareJITDylib(LLVMOrcLLJITGetExecutionSession(self.lljit), cname.as_ptr()) })
    }

    /// Removes every definition in `dylib` and frees its code. The dylib stays
    /// usable (its generators too) for new definitions.
    pub fn clear(&self, dylib: Dylib) -> Result<(), LlvmError> {
        // SAFETY: clearing removes all of the dylib's resource trackers, after which
        // a fresh default tracker is created on the next definition.
        check(unsafe { LLVMOrcJITDylibClear(dylib.0) })
    }

    /// Registers every object linked from now on with debuggers (the GDB JIT
    /// interface, through JITLink's debug object plugin), and lets them insert
    /// breakpoints in code (which is then writable where it runs). Call once.
    pub fn enable_debugger_support(&self) -> Result<(), LlvmError> {
        if let Some(memory) = &self.memory {
            memory.make_debuggable();
        }
        // SAFETY: the LLJIT is live; adding the plugin takes the linking layer's lock.
        check(unsafe { llvm_sys::orc2::lljit::LLVMOrcLLJITEnableDebugSupport(self.lljit) })
    }

    /// Frees interned symbol names nothing refers to any more (a freed module's
    /// symbols, slot and definition symbols among them, would otherwise stay).
    pub fn clear_dead_symbol_names(&self) {
        // SAFETY: the pool belongs to the live session; clearing is internally locked.
        unsafe {
            let pool = LLVMOrcExecutionSessionGetSymbolStringPool(LLVMOrcLLJITGetExecutionSession(self.lljit));
            LLVMOrcSymbolStringPoolClearDeadEntries(pool);
        }
    }

    /// Looks up `names` in `dylib` (materializing what is needed) and calls `done`
    /// with their addresses, in order, once all are ready: possibly before this
    /// returns, possibly later on another thread.
    pub fn lookup_async(&self, dylib: Dylib, names: &[String], done: LookupDone) {
        let mut set: Vec<LLVMOrcCLookupSetElement> = names
            .iter()
            .map(|n| LLVMOrcCLookupSetElement {
                Name: self.intern(n),
                LookupFlags: LLVMOrcSymbolLookupFlags::LLVMOrcSymbolLookupFlagsRequiredSymbol,
            })
            .collect();
        let mut order = [LLVMOrcCJITDylibSearchOrderElement {
            JD: dylib.0,
            JDLookupFlags: LLVMOrcJITDylibLookupFlags::LLVMOrcJITDylibLookupFlagsMatchAllSymbols,
        }];
        let ctx = Box::into_raw(Box::new(PendingLookup { names: names.to_vec(), done })).cast::<c_void>();
        // SAFETY: the lookup takes the interned names; `ctx` is reclaimed exactly once,
        // by `lookup_finished`, which ORC always calls.
        unsafe {
            LLVMOrcExecutionSessionLookup(
                LLVMOrcLLJITGetExecutionSession(self.lljit),
                LLVMOrcLookupKind::LLVMOrcLookupKindStatic,
                order.as_mut_ptr(),
                order.len(),
                set.as_mut_ptr(),
                set.len(),
                lookup_finished,
                ctx,
            );
        }
    }

    /// `lookup_async`, waiting for the result.
    pub fn lookup_all(&self, dylib: Dylib, names: &[String]) -> Result<Vec<usize>, LlvmError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.lookup_async(dylib, names, Box::new(move |r| drop(tx.send(r))));
        rx.recv().unwrap_or_else(|_| Err(LlvmError("lookup abandoned".into())))
    }

    /// Links an object file compiled for `responsibility`'s symbols (by
    /// `IrModule::emit_object`) and fulfils the responsibility. Safe to call from
    /// several threads at once: ORC and JITLink lock internally.
    pub fn emit_object(&self, mut responsibility: MaterializationResponsibility, object: ObjectFile) {
        // SAFETY: both ownerships move into ORC; we null our copy of the
        // responsibility and forget the buffer so neither Drop runs.
        unsafe {
            LLVMOrcObjectLayerEmit(LLVMOrcLLJITGetObjLinkingLayer(self.lljit), responsibility.0, object.into_raw());
        }
        responsibility.0 = std::ptr::null_mut();
    }

    /// Adds a whole module to `dylib`; it is compiled when one of its symbols is
    /// looked up.
    pub fn add_module(&self, dylib: Dylib, module: ThreadSafeModule) -> Result<(), LlvmError> {
        let mut module = module;
        // SAFETY: LLJIT takes the module whatever the outcome.
        let result = check(unsafe { LLVMOrcLLJITAddLLVMIRModule(self.lljit, dylib.0, module.0) });
        module.0 = std::ptr::null_mut();
        result
    }

    /// The address of `name` in the main JITDylib, materializing it if needed.
    pub fn lookup(&self, name: &str) -> Result<usize, LlvmError> {
        let cname = c_string(name);
        let mut addr = 0;
        // SAFETY: lookup does not take the name.
        check(unsafe { LLVMOrcLLJITLookup(self.lljit, &mut addr, cname.as_ptr()) })?;
        Ok(addr as usize)
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        // SAFETY: stubs and call-through managers before the LLJIT (see module doc).
        unsafe {
            if !self.ism.is_null() {
                LLVMOrcDisposeIndirectStubsManager(self.ism);
            }
            if !self.lctm.is_null() {
                LLVMOrcDisposeLazyCallThroughManager(self.lctm);
            }
            if let Err(e) = check(LLVMOrcDisposeLLJIT(self.lljit)) {
                tracing::error!(target: "ore::jit", "disposing the JIT: {e}");
            }
        }
    }
}

/// Receives the addresses of a `lookup_async`, in the order asked for.
pub type LookupDone = Box<dyn FnOnce(Result<Vec<usize>, LlvmError>) + Send>;

struct PendingLookup {
    names: Vec<String>,
    done: LookupDone,
}

extern "C" fn lookup_finished(err: llvm_sys::error::LLVMErrorRef, result: LLVMOrcCSymbolMapPairs, count: usize, ctx: *mut c_void) {
    // SAFETY: `ctx` is the Box leaked by `lookup_async`; ORC calls this exactly once.
    let pending = unsafe { Box::from_raw(ctx.cast::<PendingLookup>()) };
    let outcome = check(err).map(|()| {
        // SAFETY: on success `result` holds `count` pairs, alive during this call.
        let pairs = unsafe { std::slice::from_raw_parts(result, count) };
        let found: std::collections::HashMap<String, usize> = pairs
            .iter()
            .map(|p| {
                // SAFETY: the pool entry is alive during the callback; its string is
                // NUL-terminated and copied at once.
                let name = unsafe { CStr::from_ptr(LLVMOrcSymbolStringPoolEntryStr(p.Name)) };
                (name.to_string_lossy().into_owned(), p.Sym.Address as usize)
            })
            .collect();
        pending.names.iter().map(|n| found.get(n).copied().unwrap_or(0)).collect()
    });
    if catch_unwind(AssertUnwindSafe(move || (pending.done)(outcome))).is_err() {
        tracing::error!(target: "ore::jit", "lookup callback panicked");
    }
}

/// The right, and duty, to provide the symbols of one materialization unit.
pub struct MaterializationResponsibility(LLVMOrcMaterializationResponsibilityRef);

// SAFETY: ORC allows a responsibility to be fulfilled from any thread.
unsafe impl Send for MaterializationResponsibility {}

impl MaterializationResponsibility {
    /// Gives up: every symbol of the unit becomes an error for whoever waits on it.
    pub fn fail(self) {
        drop(self)
    }

    /// The dylib the unit defines its symbols in.
    pub fn target_dylib(&self) -> Dylib {
        // SAFETY: the responsibility is live (not yet emitted or failed).
        Dylib(unsafe { LLVMOrcMaterializationResponsibilityGetTargetDylib(self.0) })
    }

    /// The names of the symbols the unit must define.
    pub fn symbols(&self) -> Vec<String> {
        let mut count = 0;
        // SAFETY: the responsibility is live; the array is ours to dispose, after
        // its names (which the pool keeps alive meanwhile) are copied.
        unsafe {
            let pairs = LLVMOrcMaterializationResponsibilityGetSymbols(self.0, &mut count);
            if pairs.is_null() {
                return Vec::new();
            }
            let names = std::slice::from_raw_parts(pairs, count)
                .iter()
                .map(|p| CStr::from_ptr(LLVMOrcSymbolStringPoolEntryStr(p.Name)).to_string_lossy().into_owned())
                .collect();
            LLVMOrcDisposeCSymbolFlagsMap(pairs);
            names
        }
    }
}

impl Drop for MaterializationResponsibility {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: still ours (never emitted): fail, then dispose, as required.
            unsafe {
                LLVMOrcMaterializationResponsibilityFailMaterialization(self.0);
                LLVMOrcDisposeMaterializationResponsibility(self.0);
            }
        }
    }
}

extern "C" fn materialize_unit(ctx: *mut c_void, mr: LLVMOrcMaterializationResponsibilityRef) {
    // SAFETY: `ctx` is the Box leaked in `define_materializer`; ORC calls this at most once
    // and then never calls `destroy_unit`, so we take it back here.
    let materialize = unsafe { Box::from_raw(ctx.cast::<Materializer>()) };
    let responsibility = MaterializationResponsibility(mr);
    // A panic must not unwind into C++; the responsibility, moved into the closure,
    // is failed by its Drop during unwinding.
    if catch_unwind(AssertUnwindSafe(move || materialize(responsibility))).is_err() {
        tracing::error!(target: "ore::jit", "materializer panicked");
    }
}

extern "C" fn discard_symbol(_ctx: *mut c_void, _jd: LLVMOrcJITDylibRef, _sym: LLVMOrcSymbolStringPoolEntryRef) {
    // One symbol per unit: a discarded symbol means the unit is about to be
    // destroyed, which `destroy_unit` handles.
}

extern "C" fn destroy_unit(ctx: *mut c_void) {
    // SAFETY: called only when `materialize_unit` never was; the Box is still ours.
    drop(unsafe { Box::from_raw(ctx.cast::<Materializer>()) });
}

/// Names of the symbols an object file defines (its sections' symbols, not its
/// undefined references); local ones are included, since the object format API
/// cannot tell them apart: callers look each up and skip what is not exported.
pub fn object_symbols(bytes: &[u8]) -> Result<Vec<String>, LlvmError> {
    use llvm_sys::object::*;
    let mut names = Vec::new();
    // SAFETY: the binary reads a buffer we own and dispose after it; iterators are
    // disposed before the binary.
    unsafe {
        let buffer = llvm_sys::core::LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes.as_ptr().cast(), bytes.len(), c"object".as_ptr());
        let mut message = std::ptr::null_mut();
        let binary = LLVMCreateBinary(buffer, std::ptr::null_mut(), &mut message);
        if binary.is_null() {
            llvm_sys::core::LLVMDisposeMemoryBuffer(buffer);
            return Err(LlvmError(owned_message(message)));
        }
        let symbols = LLVMObjectFileCopySymbolIterator(binary);
        let sections = LLVMObjectFileCopySectionIterator(binary);
        while LLVMObjectFileIsSymbolIteratorAtEnd(binary, symbols) == 0 {
            LLVMMoveToContainingSection(sections, symbols);
            let defined = LLVMObjectFileIsSectionIteratorAtEnd(binary, sections) == 0;
            let name = CStr::from_ptr(LLVMGetSymbolName(symbols)).to_string_lossy().into_owned();
            if defined && !name.is_empty() {
                names.push(name);
            }
            LLVMMoveToNextSymbol(symbols);
        }
        LLVMDisposeSectionIterator(sections);
        LLVMDisposeSymbolIterator(symbols);
        LLVMDisposeBinary(binary);
        llvm_sys::core::LLVMDisposeMemoryBuffer(buffer);
    }
    Ok(names)
}
