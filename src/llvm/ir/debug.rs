//! DWARF for generated code (`ore run -g`): one `DebugInfo` per module owns its
//! `DIBuilder` and compile unit; functions get subprograms, instructions the
//! current source location, locals their variables. `finish` (or Drop) finalises
//! and disposes the builder, which must happen before the module is verified or
//! compiled. Metadata lives in the module's context, so every handle borrows the
//! `IrModule`.

use super::builder::{Block, Function, Value};
use super::IrModule;
use llvm_sys::core::*;
use llvm_sys::debuginfo::*;
use llvm_sys::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;

/// A subprogram: the scope of a function's locations and variables.
#[derive(Clone, Copy)]
pub struct Scope<'m>(LLVMMetadataRef, LLVMMetadataRef, PhantomData<&'m IrModule>);

/// The debugger's view of an Ore type.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum DebugType {
    I64,
    F64,
    Bool,
    /// A pointer: `str` (to chars), `ptr` and arrays (to i64s).
    Str,
    Pointer,
}

pub struct DebugInfo<'m> {
    m: &'m IrModule,
    builder: LLVMDIBuilderRef,
    unit: LLVMMetadataRef,
    files: RefCell<HashMap<String, LLVMMetadataRef>>,
    types: RefCell<HashMap<DebugType, LLVMMetadataRef>>,
}

impl IrModule {
    /// Starts the debug info of this module, whose compile unit is `file`.
    pub fn debug_info(&self, file: &str) -> DebugInfo<'_> {
        // SAFETY: the builder belongs to our live module and is disposed in
        // `DebugInfo`'s Drop; the module-flag values are constants of our context.
        unsafe {
            LLVMSetIsNewDbgInfoFormat(self.module, 1);
            let int32 = LLVMInt32TypeInContext(self.ctx);
            for (flag, value) in [("Debug Info Version", LLVMDebugMetadataVersion()), ("Dwarf Version", 4)] {
                let value = LLVMValueAsMetadata(LLVMConstInt(int32, value as u64, 0));
                LLVMAddModuleFlag(
                    self.module,
                    llvm_sys::LLVMModuleFlagBehavior::LLVMModuleFlagBehaviorWarning,
                    flag.as_ptr().cast(),
                    flag.len(),
                    value,
                );
            }
            let builder = LLVMCreateDIBuilder(self.module);
            let mut info = DebugInfo { m: self, builder, unit: std::ptr::null_mut(), files: RefCell::default(), types: RefCell::default() };
            let producer = "ore";
            info.unit = LLVMDIBuilderCreateCompileUnit(
                builder,
                LLVMDWARFSourceLanguage::LLVMDWARFSourceLanguageC,
                info.file(file),
                producer.as_ptr().cast(),
                producer.len(),
                0,
                c"".as_ptr(),
                0,
                0,
                c"".as_ptr(),
                0,
                LLVMDWARFEmissionKind::LLVMDWARFEmissionKindFull,
                0,
                0,
                0,
                c"".as_ptr(),
                0,
                c"".as_ptr(),
                0,
            );
            info
        }
    }
}

impl<'m> DebugInfo<'m> {
    fn file(&self, name: &str) -> LLVMMetadataRef {
        *self.files.borrow_mut().entry(name.to_string()).or_insert_with(|| {
            // SAFETY: the builder is live; LLVM copies the strings.
            unsafe { LLVMDIBuilderCreateFile(self.builder, name.as_ptr().cast(), name.len(), c"".as_ptr(), 0) }
        })
    }

    fn ty(&self, ty: DebugType) -> LLVMMetadataRef {
        if let Some(&known) = self.types.borrow().get(&ty) {
            return known;
        }
        let made = {
            let basic = |name: &str, bits: u64, encoding: u32| {
                // SAFETY: the builder is live; LLVM copies the name.
                unsafe { LLVMDIBuilderCreateBasicType(self.builder, name.as_ptr().cast(), name.len(), bits, encoding, LLVMDIFlagZero) }
            };
            // DW_ATE_* encodings.
            let (signed, float, boolean, signed_char) = (5, 4, 2, 6);
            let pointer = |to: LLVMMetadataRef, name: &str| {
                // SAFETY: as above; `to` is a type of this builder.
                unsafe { LLVMDIBuilderCreatePointerType(self.builder, to, 64, 0, 0, name.as_ptr().cast(), name.len()) }
            };
            match ty {
                DebugType::I64 => basic("i64", 64, signed),
                DebugType::F64 => basic("f64", 64, float),
                DebugType::Bool => basic("bool", 8, boolean),
                DebugType::Str => pointer(basic("char", 8, signed_char), "str"),
                DebugType::Pointer => pointer(self.ty(DebugType::I64), "ptr"),
            }
        };
        self.types.borrow_mut().insert(ty, made);
        made
    }

    /// Describes `function` (named `name` in source `file`, defined at `line`) and
    /// returns its scope. It has no linkage name: debuggers then know it by `name`
    /// alone (`break fib`), every definition of it at once.
    pub fn function(&self, function: Function<'m>, name: &str, file: &str, line: u32) -> Scope<'m> {
        let file = self.file(file);
        // SAFETY: the builder, file and function are live and ours; LLVM copies
        // the strings.
        unsafe {
            let signature = LLVMDIBuilderCreateSubroutineType(self.builder, file, std::ptr::null_mut(), 0, LLVMDIFlagZero);
            let subprogram = LLVMDIBuilderCreateFunction(
                self.builder,
                self.unit,
                name.as_ptr().cast(),
                name.len(),
                c"".as_ptr(),
                0,
                file,
                line,
                signature,
                0,
                1,
                line,
                LLVMDIFlagZero,
                0,
            );
            LLVMSetSubprogram(function.value.raw(), subprogram);
            Scope(subprogram, file, PhantomData)
        }
    }

    /// Gives the instructions built from now on the location `line`:`column`.
    pub fn set_location(&self, scope: Scope<'m>, line: u32, column: u32) {
        // SAFETY: the scope is a subprogram of our context; the builder is the module's.
        unsafe {
            let location = LLVMDIBuilderCreateDebugLocation(self.m.ctx, line, column, scope.0, std::ptr::null_mut());
            LLVMSetCurrentDebugLocation2(self.m.builder, location);
        }
    }

    /// Instructions built from now on have no location (until `set_location`).
    pub fn clear_location(&self) {
        // SAFETY: the builder is the module's; null clears its location.
        unsafe { LLVMSetCurrentDebugLocation2(self.m.builder, std::ptr::null_mut()) };
    }

    /// Describes the local `name` (parameter `argument`, from 1, if it is one),
    /// declared at `line`, whose value lives in `storage` (an alloca); the
    /// declaration goes at the end of `block`.
    #[allow(clippy::too_many_arguments)]
    pub fn local(
        &self,
        scope: Scope<'m>,
        storage: Value<'m>,
        name: &str,
        argument: Option<u32>,
        line: u32,
        ty: DebugType,
        block: Block<'m>,
    ) {
        let ty = self.ty(ty);
        // SAFETY: scope, file, type, storage and block belong to this module; the
        // module uses debug records (set in `debug_info`).
        unsafe {
            let variable = match argument {
                Some(n) => LLVMDIBuilderCreateParameterVariable(
                    self.builder,
                    scope.0,
                    name.as_ptr().cast(),
                    name.len(),
                    n,
                    scope.1,
                    line,
                    ty,
                    1,
                    LLVMDIFlagZero,
                ),
                None => LLVMDIBuilderCreateAutoVariable(
                    self.builder,
                    scope.0,
                    name.as_ptr().cast(),
                    name.len(),
                    scope.1,
                    line,
                    ty,
                    1,
                    LLVMDIFlagZero,
                    0,
                ),
            };
            let expression = LLVMDIBuilderCreateExpression(self.builder, std::ptr::null_mut(), 0);
            let location = LLVMDIBuilderCreateDebugLocation(self.m.ctx, line, 1, scope.0, std::ptr::null_mut());
            LLVMDIBuilderInsertDeclareRecordAtEnd(self.builder, storage.raw(), variable, expression, location, block.raw());
        }
    }
}

impl Drop for DebugInfo<'_> {
    fn drop(&mut self) {
        // SAFETY: the builder is ours; finalising completes the metadata before
        // the module is verified or compiled.
        unsafe {
            LLVMDIBuilderFinalize(self.builder);
            LLVMDisposeDIBuilder(self.builder);
        }
    }
}
