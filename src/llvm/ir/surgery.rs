//! Reading and rewriting parsed IR: linking modules, listing and renaming
//! globals, and cutting one function out of a module.

use super::super::{c_string, owned_message};
use super::module::LAST_DIAGNOSTIC;
use super::IrModule;
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::LLVMLinkage;

impl IrModule {
    /// Links `other` into this module (LLVM's module linker), moving its IR into this
    /// module's context through its text form.
    pub fn link_in(&self, other: IrModule) -> Result<(), String> {
        let text = other.print();
        drop(other);
        let name = c_string("linked");
        let mut parsed = std::ptr::null_mut();
        let mut message = std::ptr::null_mut();
        // SAFETY: text parsing consumes the buffer; the parsed module belongs to our
        // context and is consumed by LLVMLinkModules2, success or not.
        unsafe {
            let buffer = LLVMCreateMemoryBufferWithMemoryRangeCopy(text.as_ptr().cast(), text.len(), name.as_ptr());
            if llvm_sys::ir_reader::LLVMParseIRInContext(self.ctx, buffer, &mut parsed, &mut message) != 0 {
                return Err(owned_message(message));
            }
            if llvm_sys::linker::LLVMLinkModules2(self.module, parsed) != 0 {
                return Err(LAST_DIAGNOSTIC.with(|d| d.take()).unwrap_or_else(|| "linking failed".into()));
            }
        }
        Ok(())
    }

    /// Gives every function declared but not defined whose name starts with `prefix`
    /// a body that calls `abort`, so that the module links on its own.
    pub fn define_as_abort(&self, prefix: &str) {
        // SAFETY: walking and extending our own module with our own builder.
        unsafe {
            let mut f = LLVMGetFirstFunction(self.module);
            while !f.is_null() {
                let next = LLVMGetNextFunction(f);
                let mut len = 0;
                let name = std::slice::from_raw_parts(LLVMGetValueName2(f, &mut len).cast::<u8>(), len);
                if LLVMIsDeclaration(f) != 0 && name.starts_with(prefix.as_bytes()) {
                    let abort = self.declare("abort", self.fn_type(self.void(), &[]));
                    let entry = LLVMAppendBasicBlockInContext(self.ctx, f, c"entry".as_ptr());
                    LLVMPositionBuilderAtEnd(self.builder, entry);
                    self.call(abort, &[]);
                    LLVMBuildUnreachable(self.builder);
                }
                f = next;
            }
        }
    }

    fn globals(&self) -> Vec<LLVMValueRef> {
        let mut all = Vec::new();
        // SAFETY: walking our own module's lists; callers may delete what they get.
        unsafe {
            let mut f = LLVMGetFirstFunction(self.module);
            while !f.is_null() {
                all.push(f);
                f = LLVMGetNextFunction(f);
            }
            let mut g = LLVMGetFirstGlobal(self.module);
            while !g.is_null() {
                all.push(g);
                g = LLVMGetNextGlobal(g);
            }
        }
        all
    }

    fn name_of(value: LLVMValueRef) -> String {
        let mut len = 0;
        // SAFETY: the name is owned by the value; we copy it.
        unsafe {
            let ptr = LLVMGetValueName2(value, &mut len);
            String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
        }
    }

    fn is_function(value: LLVMValueRef) -> bool {
        // SAFETY: a type query.
        unsafe { !LLVMIsAFunction(value).is_null() }
    }

    /// Names of the functions this module defines (not intrinsics or declarations).
    pub fn defined_functions(&self) -> Vec<String> {
        self.globals()
            .into_iter()
            // SAFETY: declaration query on our own values.
            .filter(|v| Self::is_function(*v) && unsafe { LLVMIsDeclaration(*v) } == 0)
            .map(Self::name_of)
            .collect()
    }

    /// Names of every global the module defines (functions and variables) if
    /// `defined`, or only declares otherwise.
    pub fn global_names(&self, defined: bool) -> Vec<String> {
        self.globals()
            .into_iter()
            // SAFETY: declaration query on our own values.
            .filter(|v| (unsafe { LLVMIsDeclaration(*v) } == 0) == defined)
            .map(Self::name_of)
            .collect()
    }

    /// Whether the module defines any global variable.
    pub fn defines_data(&self) -> bool {
        // SAFETY: declaration query on our own values.
        self.globals().into_iter().any(|v| !Self::is_function(v) && unsafe { LLVMIsDeclaration(v) } == 0)
    }

    /// Gives private and internal definitions external linkage under unique names, so
    /// the module can be split into pieces that link against each other.
    pub fn externalize_locals(&self, suffix: &str) {
        use LLVMLinkage::*;
        for v in self.globals() {
            // SAFETY: linkage and name changes on our own definitions.
            unsafe {
                if LLVMIsDeclaration(v) == 0 && matches!(LLVMGetLinkage(v), LLVMPrivateLinkage | LLVMInternalLinkage) {
                    let name = format!("{}{suffix}", Self::name_of(v));
                    LLVMSetValueName2(v, name.as_ptr().cast(), name.len());
                    LLVMSetLinkage(v, LLVMExternalLinkage);
                }
            }
        }
    }

    /// Keeps only the body of function `keep`, renamed `rename`; every other
    /// function, and with `keep` given every global variable too, becomes a
    /// declaration. With `keep` None, all functions become declarations and the
    /// global variables stay: the module's data.
    pub fn retain_only(&self, keep: Option<&str>, rename: &str) {
        for v in self.globals() {
            let name = Self::name_of(v);
            let is_function = Self::is_function(v);
            // SAFETY: replacing a definition by a declaration: the declaration is
            // created (after freeing the name), takes over every use, and the old
            // definition, now unused, is deleted with its body.
            unsafe {
                if LLVMIsDeclaration(v) != 0 || name.starts_with("llvm.") {
                    continue;
                }
                if is_function && keep == Some(name.as_str()) {
                    LLVMSetValueName2(v, rename.as_ptr().cast(), rename.len());
                    continue;
                }
                if !is_function && keep.is_none() {
                    continue;
                }
                let ty = LLVMGlobalGetValueType(v);
                LLVMSetValueName2(v, c"".as_ptr(), 0);
                let cname = c_string(&name);
                let declaration = if is_function {
                    LLVMAddFunction(self.module, cname.as_ptr(), ty)
                } else {
                    let g = LLVMAddGlobal(self.module, ty, cname.as_ptr());
                    LLVMSetGlobalConstant(g, LLVMIsGlobalConstant(v));
                    g
                };
                LLVMReplaceAllUsesWith(v, declaration);
                if is_function {
                    LLVMDeleteFunction(v);
                } else {
                    LLVMDeleteGlobal(v);
                }
            }
        }
    }
}
