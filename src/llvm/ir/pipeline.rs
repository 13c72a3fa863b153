//! Checking and compiling a module: the verifier, the optimisation pipeline and
//! code generation, on the calling thread's target machines (so modules compile
//! on several threads at once). Object code goes through `shim/codegen.cpp`,
//! which keeps each machine's codegen pipeline instead of building one per module.

use super::super::target::with_host_target_machine;
use super::super::{c_string, owned_message, take_buffer};
use super::module::ObjectFile;
use super::IrModule;
use llvm_sys::prelude::*;
use llvm_sys::target_machine::{LLVMCodeGenFileType, LLVMTargetMachineEmitToMemoryBuffer};
use llvm_sys::transforms::pass_builder::{LLVMCreatePassBuilderOptions, LLVMDisposePassBuilderOptions, LLVMRunPasses};

extern "C" {
    fn ore_shim_emit_object(
        tm: llvm_sys::target_machine::LLVMTargetMachineRef,
        module: LLVMModuleRef,
        error: *mut *mut libc::c_char,
    ) -> LLVMMemoryBufferRef;
}

/// The IR pipeline a module goes through before code generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// LLVM's `default<On>`.
    Standard,
    /// For a small function of straight-line code (no loops, no calls, so no
    /// copies to inline): the passes of `default<O2>` that change such a function,
    /// at a quarter of its cost (`STRAIGHT_LINE`).
    StraightLine,
}

/// `Pipeline::StraightLine`: branch weights from `llvm.expect` (which lay out the
/// cold error paths), locals into registers, redundancies, folding, operand order
/// and branches into selects, and the error paths' runtime calls marked as tail
/// calls. Most of `default<O2>` is loop, call-graph and memory passes with nothing
/// to do in such a function, and each still costs its setup: this takes a trivial
/// function's optimisation from 0.43 to 0.10 ms. The machine code is the same as
/// after `default<O2>`, or shorter (`standalone.rs`'s test: the same for 9 of 10
/// functions, with and without deadline checks; one `cmov` for two branches).
const STRAIGHT_LINE: &str = "function(lower-expect,sroa,early-cse,simplifycfg,instcombine,reassociate,simplifycfg,tailcallelim)";

impl IrModule {
    /// Runs the IR verifier; `Err` carries LLVM's description of the problem.
    pub fn verify(&self) -> Result<(), String> {
        let mut message = std::ptr::null_mut();
        // SAFETY: the module is ours; LLVM allocates `message`, `owned_message` frees it.
        let broken = unsafe {
            llvm_sys::analysis::LLVMVerifyModule(
                self.module,
                llvm_sys::analysis::LLVMVerifierFailureAction::LLVMReturnStatusAction,
                &mut message,
            )
        };
        // SAFETY: LLVM allocated `message` (or left it null) for us.
        let text = unsafe { owned_message(message) };
        if broken != 0 {
            Err(text)
        } else {
            Ok(())
        }
    }

    /// Runs `pipeline` at `level`. At O0 it runs nothing: LLVM's `default<O0>`
    /// only handles constructs Ore never emits (always-inline functions,
    /// coroutines), and building it costs about 70 µs per module.
    pub fn optimize(&self, level: u8, pipeline: Pipeline) -> Result<(), String> {
        if level == 0 {
            return Ok(());
        }
        let pipeline = c_string(&match pipeline {
            Pipeline::Standard => format!("default<O{level}>"),
            Pipeline::StraightLine => STRAIGHT_LINE.to_string(),
        });
        with_host_target_machine(level, |tm| {
            // SAFETY: module, target machine and options are live for the call; the
            // options object is disposed right after.
            unsafe {
                let options = LLVMCreatePassBuilderOptions();
                let err = LLVMRunPasses(self.module, pipeline.as_ptr(), tm, options);
                LLVMDisposePassBuilderOptions(options);
                super::super::check(err).map_err(|e| e.0)
            }
        })
    }

    /// Compiles the module to a relocatable object file with this thread's target
    /// machine for `codegen_level`, through the codegen pipeline this thread keeps
    /// for that machine (`shim/codegen.cpp`).
    pub fn emit_object(&self, codegen_level: u8) -> Result<ObjectFile, String> {
        with_host_target_machine(codegen_level, |tm| {
            let mut message = std::ptr::null_mut();
            // SAFETY: the module and this thread's target machine are live (the
            // machine until the thread ends, as the shim requires); we own the
            // buffer or the message it returns.
            let buffer = unsafe { ore_shim_emit_object(tm, self.module, &mut message) };
            if buffer.is_null() {
                // SAFETY: on failure the shim allocated `message` for us.
                return Err(unsafe { owned_message(message) });
            }
            Ok(ObjectFile(buffer))
        })
    }

    /// The host assembly for this module.
    pub fn assembly(&self, codegen_level: u8) -> Result<String, String> {
        let buffer = self.emit(codegen_level, LLVMCodeGenFileType::LLVMAssemblyFile)?;
        // SAFETY: the buffer is ours; take_buffer copies and disposes it.
        Ok(String::from_utf8_lossy(&unsafe { take_buffer(buffer) }).into_owned())
    }

    fn emit(&self, codegen_level: u8, kind: LLVMCodeGenFileType) -> Result<LLVMMemoryBufferRef, String> {
        with_host_target_machine(codegen_level, |tm| {
            let mut message = std::ptr::null_mut();
            let mut buffer = std::ptr::null_mut();
            // SAFETY: the module and this thread's target machine are live; code
            // generation does not change the module's IR. We own the buffer or the
            // message it returns.
            let failed = unsafe { LLVMTargetMachineEmitToMemoryBuffer(tm, self.module, kind, &mut message, &mut buffer) };
            if failed != 0 {
                // SAFETY: on failure LLVM allocated `message` for us.
                return Err(unsafe { owned_message(message) });
            }
            Ok(buffer)
        })
    }
}
