//! Target machines for the host, and turning a module into an object file.
//!
//! Ownership: each thread owns its target machines (one per code generation level),
//! created on first use and disposed when the thread ends. A target machine is not
//! safe to share between threads, so one per thread is what lets functions compile
//! on several threads at once; and creating one costs far more than reusing it.

use super::owned_message;
use llvm_sys::target_machine::*;
use std::cell::RefCell;
use std::sync::Once;

pub(super) fn init_native_target() {
    static INIT: Once = Once::new();
    // SAFETY: one-time global registration of the host target, as LLVM requires
    // before creating target machines.
    INIT.call_once(|| unsafe {
        llvm_sys::target::LLVM_InitializeNativeTarget();
        llvm_sys::target::LLVM_InitializeNativeAsmPrinter();
    });
}

struct HostTargetMachine(LLVMTargetMachineRef);

impl Drop for HostTargetMachine {
    fn drop(&mut self) {
        // SAFETY: created by `host_target_machine` for this thread, used only here.
        unsafe { LLVMDisposeTargetMachine(self.0) }
    }
}

/// Runs `f` with this thread's target machine for code generation level `level`.
pub(super) fn with_host_target_machine<R>(level: u8, f: impl FnOnce(LLVMTargetMachineRef) -> R) -> R {
    thread_local! {
        static TMS: RefCell<[Option<HostTargetMachine>; 4]> = const { RefCell::new([None, None, None, None]) };
    }
    let level = level.min(3);
    let tm = TMS.with(|tms| tms.borrow_mut()[level as usize].get_or_insert_with(|| HostTargetMachine(host_target_machine(level))).0);
    // The machine stays in the thread-local table (never removed before the thread
    // ends), and `f` cannot reach the table, so it is alive and unshared during `f`.
    f(tm)
}

/// A new target machine for the host CPU and its features, owned by the caller.
/// Position-independent code with the small code model, as JITLink expects on x86-64
/// and AArch64 (LLJIT configures its own machine the same way).
pub(super) fn host_target_machine(codegen_level: u8) -> LLVMTargetMachineRef {
    init_native_target();
    let level = match codegen_level {
        0 => LLVMCodeGenOptLevel::LLVMCodeGenLevelNone,
        1 => LLVMCodeGenOptLevel::LLVMCodeGenLevelLess,
        2 => LLVMCodeGenOptLevel::LLVMCodeGenLevelDefault,
        _ => LLVMCodeGenOptLevel::LLVMCodeGenLevelAggressive,
    };
    let Host { triple, cpu, features } = Host::get();
    // SAFETY: the strings outlive the calls, which copy them; the caller owns the
    // returned target machine.
    unsafe {
        let mut target = std::ptr::null_mut();
        let mut message = std::ptr::null_mut();
        if LLVMGetTargetFromTriple(triple.as_ptr(), &mut target, &mut message) != 0 {
            panic!("host target unavailable: {}", owned_message(message));
        }
        let (reloc, model) = (LLVMRelocMode::LLVMRelocPIC, LLVMCodeModel::LLVMCodeModelSmall);
        LLVMCreateTargetMachine(target, triple.as_ptr(), cpu.as_ptr(), features.as_ptr(), level, reloc, model)
    }
}

/// What `host_target_machine` compiles for: the host's triple, CPU and CPU
/// features, as LLVM names them.
struct Host {
    triple: std::ffi::CString,
    cpu: std::ffi::CString,
    features: std::ffi::CString,
}

impl Host {
    fn get() -> Host {
        // SAFETY: each string is allocated by LLVM for us; `owned_message` copies
        // and frees it.
        let take = |s: *mut libc::c_char| super::c_string(&unsafe { owned_message(s) });
        // SAFETY: plain queries of the host.
        unsafe {
            Host { triple: take(LLVMGetDefaultTargetTriple()), cpu: take(LLVMGetHostCPUName()), features: take(LLVMGetHostCPUFeatures()) }
        }
    }
}

/// The host's target triple and data layout, as modules compiled for it carry.
pub fn host_triple_and_layout() -> (std::ffi::CString, std::ffi::CString) {
    with_host_target_machine(0, |tm| {
        // SAFETY: both strings are allocated by LLVM for us and copied before being
        // freed; the data layout object is disposed after use.
        unsafe {
            let triple = owned_message(LLVMGetTargetMachineTriple(tm));
            let layout = LLVMCreateTargetDataLayout(tm);
            let text = owned_message(llvm_sys::target::LLVMCopyStringRepOfTargetData(layout));
            llvm_sys::target::LLVMDisposeTargetData(layout);
            (super::c_string(&triple), super::c_string(&text))
        }
    })
}

/// What the machine code LLVM generates here depends on besides its input: LLVM's
/// version, and the host's triple, CPU and CPU features (which
/// `host_target_machine` compiles for). The object cache keys on it.
pub fn host_code_identity() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVMGetVersion writes three integers.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    let Host { triple, cpu, features } = Host::get();
    format!("LLVM {major}.{minor}.{patch} {} {} {}", triple.to_string_lossy(), cpu.to_string_lossy(), features.to_string_lossy())
}
