//! Who owns what: an `IrModule` owns a reference to its own `ThreadSafeContext`,
//! the `LLVMModuleRef` (until `into_thread_safe_module` hands it to ORC) and a
//! builder; an `ObjectFile` owns its memory buffer until ORC takes it.

use super::super::{c_string, owned_message, take_buffer};
use llvm_sys::core::*;
use llvm_sys::orc2::*;
use llvm_sys::prelude::*;
use std::ffi::CStr;

thread_local! {
    /// The last error LLVM reported through a context's diagnostic handler.
    pub(super) static LAST_DIAGNOSTIC: std::cell::Cell<Option<String>> = const { std::cell::Cell::new(None) };
}

extern "C" fn record_diagnostic(info: LLVMDiagnosticInfoRef, _ctx: *mut libc::c_void) {
    // SAFETY: LLVM passes a live diagnostic; the description is ours to free.
    let (severity, text) = unsafe { (LLVMGetDiagInfoSeverity(info), owned_message(LLVMGetDiagInfoDescription(info))) };
    // LLVM has no source location for generated code, so drop its placeholder.
    let text = text.strip_prefix("<unknown>:0:0: ").map(str::to_string).unwrap_or(text);
    match severity {
        llvm_sys::LLVMDiagnosticSeverity::LLVMDSError => LAST_DIAGNOSTIC.with(|d| d.set(Some(text))),
        llvm_sys::LLVMDiagnosticSeverity::LLVMDSWarning => tracing::warn!(target: "ore::llvm", "{text}"),
        // Remarks (`10 instructions in function`) come at every compile: a target of
        // their own, below `debug`, inside the span of the function being compiled.
        _ => tracing::trace!(target: "ore::llvm::remarks", "{text}"),
    }
}

pub struct IrModule {
    pub(super) tsc: LLVMOrcThreadSafeContextRef,
    pub(super) ctx: LLVMContextRef,
    pub(super) module: LLVMModuleRef,
    pub(super) builder: LLVMBuilderRef,
}

// SAFETY: the module and builder belong to a context no other thread can reach (each
// IrModule creates its own ThreadSafeContext), so moving the whole bundle to
// another thread is sound; `&IrModule` is never shared across threads (no Sync).
unsafe impl Send for IrModule {}

/// A relocatable object file in an LLVM memory buffer we own, until
/// `Jit::emit_object` hands it to the object linking layer.
pub struct ObjectFile(pub(in crate::llvm) LLVMMemoryBufferRef);

// SAFETY: a memory buffer is plain owned bytes, not tied to a context or thread.
unsafe impl Send for ObjectFile {}

impl ObjectFile {
    pub fn len(&self) -> usize {
        // SAFETY: the buffer is live while we own it.
        unsafe { LLVMGetBufferSize(self.0) }
    }

    /// A copy of `bytes` (an object file read back from the object cache).
    pub fn from_bytes(bytes: &[u8]) -> ObjectFile {
        ObjectFile::named(bytes, c"object")
    }

    /// A copy of `bytes`, which LLVM's messages about it call `name`.
    pub fn named(bytes: &[u8], name: &std::ffi::CStr) -> ObjectFile {
        // SAFETY: LLVM copies the range into a buffer we own; the name is copied too.
        ObjectFile(unsafe { LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes.as_ptr().cast(), bytes.len(), name.as_ptr()) })
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the buffer is live and unchanged while we own it, and `&self`
        // keeps it so for the slice's lifetime.
        unsafe { std::slice::from_raw_parts(LLVMGetBufferStart(self.0).cast(), LLVMGetBufferSize(self.0)) }
    }

    pub(in crate::llvm) fn into_raw(self) -> LLVMMemoryBufferRef {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }
}

impl Drop for ObjectFile {
    fn drop(&mut self) {
        // SAFETY: still ours (`into_raw` forgets the wrapper).
        unsafe { LLVMDisposeMemoryBuffer(self.0) }
    }
}

/// An IR module handed over to ORC's ownership rules (see `Jit::add_module`).
pub struct ThreadSafeModule(pub(in crate::llvm) LLVMOrcThreadSafeModuleRef);

// SAFETY: a ThreadSafeModule pairs the module with its context lock; ORC moves it
// between threads by design.
unsafe impl Send for ThreadSafeModule {}

impl Drop for ThreadSafeModule {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: still owned by us: `Jit` nulls the pointer when ORC takes it.
            unsafe { LLVMOrcDisposeThreadSafeModule(self.0) }
        }
    }
}

impl IrModule {
    /// A fresh module in a fresh context, for the given target.
    pub fn new(name: &str, triple: &CStr, data_layout: &CStr) -> IrModule {
        let name = c_string(name);
        // SAFETY: plain constructors; the context pointer stays valid while `tsc` holds
        // its reference, which we release only in Drop after the module is gone.
        unsafe {
            let tsc = LLVMOrcCreateNewThreadSafeContext();
            let ctx = LLVMOrcThreadSafeContextGetContext(tsc);
            // LLVM's default handler prints errors and *exits the process*.
            LLVMContextSetDiagnosticHandler(ctx, Some(record_diagnostic), std::ptr::null_mut());
            let module = LLVMModuleCreateWithNameInContext(name.as_ptr(), ctx);
            LLVMSetTarget(module, triple.as_ptr());
            LLVMSetDataLayout(module, data_layout.as_ptr());
            let builder = LLVMCreateBuilderInContext(ctx);
            IrModule { tsc, ctx, module, builder }
        }
    }

    /// Parses LLVM IR, textual or bitcode (by its magic number), into a fresh context.
    pub fn parse(name: &str, bytes: &[u8], triple: &CStr, data_layout: &CStr) -> Result<IrModule, String> {
        let mut module = IrModule::new(name, triple, data_layout);
        let cname = c_string(name);
        let mut parsed = std::ptr::null_mut();
        let mut message = std::ptr::null_mut();
        // SAFETY: the buffer copies `bytes`. Text parsing consumes the buffer;
        // bitcode parsing does not, so we dispose of it ourselves. The parsed module
        // belongs to our context and replaces the empty one.
        let failed = unsafe {
            let buffer = LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes.as_ptr().cast(), bytes.len(), cname.as_ptr());
            if bytes.starts_with(b"BC\xC0\xDE") {
                let failed = llvm_sys::bit_reader::LLVMParseBitcodeInContext2(module.ctx, buffer, &mut parsed);
                LLVMDisposeMemoryBuffer(buffer);
                failed
            } else {
                llvm_sys::ir_reader::LLVMParseIRInContext(module.ctx, buffer, &mut parsed, &mut message)
            }
        };
        if failed != 0 {
            // SAFETY: on failure LLVM allocated `message` (or left it null) for us.
            let detail = unsafe { owned_message(message) };
            let recorded = LAST_DIAGNOSTIC.with(|d| d.take());
            return Err(match (detail.is_empty(), recorded) {
                (false, _) => detail,
                (true, Some(d)) => d,
                (true, None) => "invalid LLVM bitcode".to_string(),
            });
        }
        // SAFETY: the empty module is ours; the parsed one takes its place.
        unsafe {
            LLVMDisposeModule(module.module);
            LLVMSetTarget(parsed, triple.as_ptr());
            LLVMSetDataLayout(parsed, data_layout.as_ptr());
        }
        module.module = parsed;
        Ok(module)
    }

    pub fn print(&self) -> String {
        // SAFETY: LLVM allocates the string; `owned_message` frees it.
        unsafe { owned_message(LLVMPrintModuleToString(self.module)) }
    }

    /// The module as bitcode.
    pub fn to_bitcode(&self) -> Vec<u8> {
        // SAFETY: the buffer is ours; copied, then disposed.
        unsafe { take_buffer(llvm_sys::bit_writer::LLVMWriteBitcodeToMemoryBuffer(self.module)) }
    }

    /// Hands the module to ORC's ownership: the ThreadSafeModule keeps the context alive.
    pub fn into_thread_safe_module(mut self) -> ThreadSafeModule {
        // SAFETY: the TSM takes the module and its own context reference; we null our
        // module pointer so Drop disposes only the builder and our context reference.
        let tsm = unsafe { LLVMOrcCreateNewThreadSafeModule(self.module, self.tsc) };
        self.module = std::ptr::null_mut();
        ThreadSafeModule(tsm)
    }
}

impl Drop for IrModule {
    fn drop(&mut self) {
        // SAFETY: the builder and (if still ours) the module go before our reference to
        // the context, which is the last owner unless a ThreadSafeModule holds it.
        unsafe {
            LLVMDisposeBuilder(self.builder);
            if !self.module.is_null() {
                LLVMDisposeModule(self.module);
            }
            LLVMOrcDisposeThreadSafeContext(self.tsc);
        }
    }
}
