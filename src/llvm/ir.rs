//! Safe construction of LLVM IR for one module.
//!
//! Ownership: an `IrModule` owns a reference to its own `ThreadSafeContext`, the
//! `LLVMModuleRef` (until `into_thread_safe_module` hands it to ORC) and a builder.
//! Optimising and compiling a module (`optimize`, `emit_object`) use the calling
//! thread's target machines, so modules compile on several threads at once.
//! Every `Value`, `Type` and `Block` borrows the `IrModule`, so none outlives the
//! context that owns it. Type-correct use (e.g. not adding an i64 to a double) is the
//! caller's contract, checked by the verifier in debug builds: the typed IR the code
//! generator consumes makes such mistakes bugs, not user errors.

use super::target::with_host_target_machine;
use super::{c_string, owned_message, take_buffer};
use llvm_sys::core::*;
use llvm_sys::orc2::*;
use llvm_sys::prelude::*;
use llvm_sys::target_machine::{LLVMCodeGenFileType, LLVMTargetMachineEmitToMemoryBuffer};
use llvm_sys::transforms::pass_builder::{LLVMCreatePassBuilderOptions, LLVMDisposePassBuilderOptions, LLVMRunPasses};
use llvm_sys::{LLVMIntPredicate, LLVMLinkage, LLVMRealPredicate};
use std::ffi::CStr;
use std::marker::PhantomData;

pub use llvm_sys::LLVMIntPredicate as IntPredicate;
pub use llvm_sys::LLVMRealPredicate as RealPredicate;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Value<'m>(LLVMValueRef, PhantomData<&'m IrModule>);
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Type<'m>(LLVMTypeRef, PhantomData<&'m IrModule>);
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Block<'m>(LLVMBasicBlockRef, PhantomData<&'m IrModule>);

/// A function and its type, which calls need under opaque pointers.
#[derive(Clone, Copy, Debug)]
pub struct Function<'m> {
    pub value: Value<'m>,
    pub ty: Type<'m>,
}

thread_local! {
    /// The last error LLVM reported through a context's diagnostic handler.
    static LAST_DIAGNOSTIC: std::cell::Cell<Option<String>> = const { std::cell::Cell::new(None) };
}

extern "C" fn record_diagnostic(info: LLVMDiagnosticInfoRef, _ctx: *mut libc::c_void) {
    // SAFETY: LLVM passes a live diagnostic; the description is ours to free.
    let (severity, text) = unsafe { (LLVMGetDiagInfoSeverity(info), owned_message(LLVMGetDiagInfoDescription(info))) };
    if severity == llvm_sys::LLVMDiagnosticSeverity::LLVMDSError {
        LAST_DIAGNOSTIC.with(|d| d.set(Some(text)));
    } else {
        tracing::debug!(target: "ore::llvm", "{text}");
    }
}

pub struct IrModule {
    tsc: LLVMOrcThreadSafeContextRef,
    ctx: LLVMContextRef,
    module: LLVMModuleRef,
    builder: LLVMBuilderRef,
}

// SAFETY: the module and builder belong to a context no other thread can reach (each
// IrModule creates its own ThreadSafeContext), so moving the whole bundle to
// another thread is sound; `&IrModule` is never shared across threads (no Sync).
unsafe impl Send for IrModule {}

/// A relocatable object file in an LLVM memory buffer we own, until
/// `Jit::emit_object` hands it to the object linking layer.
pub struct ObjectFile(LLVMMemoryBufferRef);

// SAFETY: a memory buffer is plain owned bytes, not tied to a context or thread.
unsafe impl Send for ObjectFile {}

impl ObjectFile {
    pub fn len(&self) -> usize {
        // SAFETY: the buffer is live while we own it.
        unsafe { LLVMGetBufferSize(self.0) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn into_raw(self) -> LLVMMemoryBufferRef {
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
pub struct ThreadSafeModule(pub(super) LLVMOrcThreadSafeModuleRef);

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

fn name_ptr() -> *const libc::c_char {
    c"".as_ptr()
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

    /// The module as bitcode.
    pub fn to_bitcode(&self) -> Vec<u8> {
        // SAFETY: the buffer is ours; copied, then disposed.
        unsafe { take_buffer(llvm_sys::bit_writer::LLVMWriteBitcodeToMemoryBuffer(self.module)) }
    }

    fn value(&self, raw: LLVMValueRef) -> Value<'_> {
        Value(raw, PhantomData)
    }

    fn ty(&self, raw: LLVMTypeRef) -> Type<'_> {
        Type(raw, PhantomData)
    }

    // ---- types ----
    // SAFETY (all type getters): the context is alive for 'self.
    pub fn i1(&self) -> Type<'_> {
        self.ty(unsafe { LLVMInt1TypeInContext(self.ctx) })
    }
    pub fn i8(&self) -> Type<'_> {
        self.ty(unsafe { LLVMInt8TypeInContext(self.ctx) })
    }
    pub fn i32(&self) -> Type<'_> {
        self.ty(unsafe { LLVMInt32TypeInContext(self.ctx) })
    }
    pub fn i64(&self) -> Type<'_> {
        self.ty(unsafe { LLVMInt64TypeInContext(self.ctx) })
    }
    pub fn f64(&self) -> Type<'_> {
        self.ty(unsafe { LLVMDoubleTypeInContext(self.ctx) })
    }
    pub fn ptr(&self) -> Type<'_> {
        self.ty(unsafe { LLVMPointerTypeInContext(self.ctx, 0) })
    }
    pub fn void(&self) -> Type<'_> {
        self.ty(unsafe { LLVMVoidTypeInContext(self.ctx) })
    }
    pub fn array_type<'m>(&'m self, elem: Type<'m>, len: u32) -> Type<'m> {
        // SAFETY: an element type of this context.
        self.ty(unsafe { LLVMArrayType2(elem.0, len as u64) })
    }
    pub fn fn_type<'m>(&'m self, ret: Type<'m>, params: &[Type<'m>]) -> Type<'m> {
        let mut raw: Vec<LLVMTypeRef> = params.iter().map(|t| t.0).collect();
        // SAFETY: all types come from this context; LLVM copies the parameter array.
        self.ty(unsafe { LLVMFunctionType(ret.0, raw.as_mut_ptr(), raw.len() as u32, 0) })
    }

    // ---- constants ----
    pub fn const_int<'m>(&'m self, ty: Type<'m>, v: i64) -> Value<'m> {
        // SAFETY: `ty` is an integer type of this context (caller's contract).
        self.value(unsafe { LLVMConstInt(ty.0, v as u64, 1) })
    }
    pub fn const_f64(&self, v: f64) -> Value<'_> {
        // SAFETY: double type of this context.
        self.value(unsafe { LLVMConstReal(LLVMDoubleTypeInContext(self.ctx), v) })
    }
    pub fn const_null<'m>(&'m self, ty: Type<'m>) -> Value<'m> {
        // SAFETY: any first-class type of this context has a null value.
        self.value(unsafe { LLVMConstNull(ty.0) })
    }
    pub fn undef<'m>(&'m self, ty: Type<'m>) -> Value<'m> {
        // SAFETY: as above.
        self.value(unsafe { LLVMGetUndef(ty.0) })
    }

    /// A private constant holding `bytes` plus a terminating NUL; returns its address.
    pub fn const_c_string(&self, bytes: &[u8]) -> Value<'_> {
        // SAFETY: LLVM copies the bytes; the global is created in our module.
        unsafe {
            let init = LLVMConstStringInContext2(self.ctx, bytes.as_ptr().cast(), bytes.len(), 0);
            let global = LLVMAddGlobal(self.module, LLVMTypeOf(init), c".str".as_ptr());
            LLVMSetInitializer(global, init);
            LLVMSetGlobalConstant(global, 1);
            LLVMSetLinkage(global, LLVMLinkage::LLVMPrivateLinkage);
            LLVMSetUnnamedAddress(global, llvm_sys::LLVMUnnamedAddr::LLVMGlobalUnnamedAddr);
            self.value(global)
        }
    }

    // ---- functions and blocks ----
    /// Adds a function definition (or declaration, until blocks are appended).
    pub fn add_function<'m>(&'m self, name: &str, ty: Type<'m>, internal: bool) -> Function<'m> {
        let cname = c_string(name);
        // SAFETY: `ty` is a function type of this context.
        let value = unsafe {
            let f = LLVMAddFunction(self.module, cname.as_ptr(), ty.0);
            if internal {
                LLVMSetLinkage(f, LLVMLinkage::LLVMInternalLinkage);
            }
            f
        };
        Function { value: self.value(value), ty }
    }

    /// The declaration of an external function, created on first use.
    pub fn declare<'m>(&'m self, name: &str, ty: Type<'m>) -> Function<'m> {
        let cname = c_string(name);
        // SAFETY: lookups and declarations in our own module.
        let existing = unsafe { LLVMGetNamedFunction(self.module, cname.as_ptr()) };
        if existing.is_null() {
            self.add_function(name, ty, false)
        } else {
            Function { value: self.value(existing), ty }
        }
    }

    /// Adds an enum attribute such as `cold` or `noinline` to a function.
    pub fn add_fn_attribute(&self, f: Function<'_>, name: &str) {
        // SAFETY: attribute kinds are looked up by name; unknown names give kind 0,
        // which we skip rather than attach.
        unsafe {
            let kind = LLVMGetEnumAttributeKindForName(name.as_ptr().cast(), name.len());
            if kind != 0 {
                let attr = LLVMCreateEnumAttribute(self.ctx, kind, 0);
                LLVMAddAttributeAtIndex(f.value.0, llvm_sys::LLVMAttributeFunctionIndex, attr);
            }
        }
    }

    pub fn param<'m>(&'m self, f: Function<'m>, index: u32) -> Value<'m> {
        // SAFETY: callers index within the function's own parameter list.
        self.value(unsafe { LLVMGetParam(f.value.0, index) })
    }

    pub fn append_block<'m>(&'m self, f: Function<'m>, name: &str) -> Block<'m> {
        let cname = c_string(name);
        // SAFETY: appending to a function of this module.
        Block(unsafe { LLVMAppendBasicBlockInContext(self.ctx, f.value.0, cname.as_ptr()) }, PhantomData)
    }

    pub fn position_at_end(&self, block: Block<'_>) {
        // SAFETY: block of this module.
        unsafe { LLVMPositionBuilderAtEnd(self.builder, block.0) }
    }

    pub fn current_block(&self) -> Block<'_> {
        // SAFETY: the builder is positioned (code generation always positions it first).
        Block(unsafe { LLVMGetInsertBlock(self.builder) }, PhantomData)
    }

    /// Whether the current block already ends in a terminator.
    pub fn is_terminated(&self) -> bool {
        // SAFETY: as above.
        unsafe { !LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(self.builder)).is_null() }
    }

    // ---- instructions ----
    // SAFETY (all builders below): operands come from this module, so they belong to
    // the builder's context; type agreement is the caller's contract (see module doc).
    pub fn add<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildAdd(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn sub<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildSub(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn mul<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildMul(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn sdiv<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildSDiv(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn srem<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildSRem(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn shl<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildShl(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn ashr<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildAShr(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn and<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildAnd(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn or<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildOr(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn xor<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildXor(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn not<'m>(&'m self, a: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildNot(self.builder, a.0, name_ptr()) })
    }
    pub fn fadd<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFAdd(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn fsub<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFSub(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn fmul<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFMul(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn fdiv<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFDiv(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn frem<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFRem(self.builder, a.0, b.0, name_ptr()) })
    }
    pub fn fneg<'m>(&'m self, a: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFNeg(self.builder, a.0, name_ptr()) })
    }
    pub fn icmp<'m>(&'m self, p: LLVMIntPredicate, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildICmp(self.builder, p, a.0, b.0, name_ptr()) })
    }
    pub fn fcmp<'m>(&'m self, p: LLVMRealPredicate, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildFCmp(self.builder, p, a.0, b.0, name_ptr()) })
    }
    pub fn select<'m>(&'m self, c: Value<'m>, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildSelect(self.builder, c.0, a.0, b.0, name_ptr()) })
    }
    pub fn zext<'m>(&'m self, v: Value<'m>, ty: Type<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildZExt(self.builder, v.0, ty.0, name_ptr()) })
    }
    pub fn sext<'m>(&'m self, v: Value<'m>, ty: Type<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildSExt(self.builder, v.0, ty.0, name_ptr()) })
    }
    pub fn trunc<'m>(&'m self, v: Value<'m>, ty: Type<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildTrunc(self.builder, v.0, ty.0, name_ptr()) })
    }
    pub fn sitofp<'m>(&'m self, v: Value<'m>, ty: Type<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildSIToFP(self.builder, v.0, ty.0, name_ptr()) })
    }
    pub fn bitcast<'m>(&'m self, v: Value<'m>, ty: Type<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildBitCast(self.builder, v.0, ty.0, name_ptr()) })
    }
    pub fn ptr_to_int<'m>(&'m self, v: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildPtrToInt(self.builder, v.0, LLVMInt64TypeInContext(self.ctx), name_ptr()) })
    }
    pub fn int_to_ptr<'m>(&'m self, v: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildIntToPtr(self.builder, v.0, LLVMPointerTypeInContext(self.ctx, 0), name_ptr()) })
    }
    /// A `monotonic` atomic load of a naturally aligned value of `bytes` bytes: reads
    /// a value other threads may replace at any time, without ever being torn or
    /// hoisted out of a loop.
    pub fn load_atomic<'m>(&'m self, ty: Type<'m>, bytes: u32, ptr: Value<'m>) -> Value<'m> {
        unsafe {
            let load = LLVMBuildLoad2(self.builder, ty.0, ptr.0, name_ptr());
            LLVMSetOrdering(load, llvm_sys::LLVMAtomicOrdering::LLVMAtomicOrderingMonotonic);
            LLVMSetAlignment(load, bytes);
            self.value(load)
        }
    }
    pub fn alloca<'m>(&'m self, ty: Type<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildAlloca(self.builder, ty.0, name_ptr()) })
    }
    pub fn load<'m>(&'m self, ty: Type<'m>, ptr: Value<'m>) -> Value<'m> {
        self.value(unsafe { LLVMBuildLoad2(self.builder, ty.0, ptr.0, name_ptr()) })
    }
    /// A load of memory that never changes while it is reachable (`!invariant.load`),
    /// which LLVM may merge with other loads of it and hoist out of loops.
    pub fn load_invariant<'m>(&'m self, ty: Type<'m>, ptr: Value<'m>) -> Value<'m> {
        let load = self.load(ty, ptr);
        // SAFETY: the metadata kind and the empty node belong to our context.
        unsafe {
            let kind = LLVMGetMDKindIDInContext(self.ctx, c"invariant.load".as_ptr(), "invariant.load".len() as u32);
            let empty = LLVMMDNodeInContext2(self.ctx, std::ptr::null_mut(), 0);
            LLVMSetMetadata(load.0, kind, LLVMMetadataAsValue(self.ctx, empty));
        }
        load
    }
    pub fn store<'m>(&'m self, v: Value<'m>, ptr: Value<'m>) {
        unsafe { LLVMBuildStore(self.builder, v.0, ptr.0) };
    }
    /// `&ptr[index]` for elements of type `ty`, known to be in bounds.
    pub fn gep<'m>(&'m self, ty: Type<'m>, ptr: Value<'m>, index: Value<'m>) -> Value<'m> {
        let mut idx = [index.0];
        self.value(unsafe { LLVMBuildInBoundsGEP2(self.builder, ty.0, ptr.0, idx.as_mut_ptr(), 1, name_ptr()) })
    }
    pub fn call<'m>(&'m self, f: Function<'m>, args: &[Value<'m>]) -> Value<'m> {
        self.call_indirect(f.ty, f.value, args)
    }
    pub fn call_indirect<'m>(&'m self, fn_ty: Type<'m>, callee: Value<'m>, args: &[Value<'m>]) -> Value<'m> {
        let mut raw: Vec<LLVMValueRef> = args.iter().map(|a| a.0).collect();
        self.value(unsafe { LLVMBuildCall2(self.builder, fn_ty.0, callee.0, raw.as_mut_ptr(), raw.len() as u32, name_ptr()) })
    }
    pub fn br(&self, dest: Block<'_>) {
        unsafe { LLVMBuildBr(self.builder, dest.0) };
    }
    pub fn cond_br<'m>(&'m self, c: Value<'m>, then: Block<'m>, els: Block<'m>) {
        unsafe { LLVMBuildCondBr(self.builder, c.0, then.0, els.0) };
    }
    pub fn ret<'m>(&'m self, v: Value<'m>) {
        unsafe { LLVMBuildRet(self.builder, v.0) };
    }
    pub fn ret_void(&self) {
        unsafe { LLVMBuildRetVoid(self.builder) };
    }
    pub fn unreachable(&self) {
        unsafe { LLVMBuildUnreachable(self.builder) };
    }
    pub fn phi<'m>(&'m self, ty: Type<'m>, incoming: &[(Value<'m>, Block<'m>)]) -> Value<'m> {
        let mut values: Vec<LLVMValueRef> = incoming.iter().map(|(v, _)| v.0).collect();
        let mut blocks: Vec<LLVMBasicBlockRef> = incoming.iter().map(|(_, b)| b.0).collect();
        unsafe {
            let phi = LLVMBuildPhi(self.builder, ty.0, name_ptr());
            LLVMAddIncoming(phi, values.as_mut_ptr(), blocks.as_mut_ptr(), values.len() as u32);
            self.value(phi)
        }
    }

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
        let text = unsafe { owned_message(message) };
        if broken != 0 {
            Err(text)
        } else {
            Ok(())
        }
    }

    pub fn print(&self) -> String {
        // SAFETY: LLVM allocates the string; `owned_message` frees it.
        unsafe { owned_message(LLVMPrintModuleToString(self.module)) }
    }

    /// Runs LLVM's standard `default<On>` pipeline. At O0 it runs nothing: that
    /// pipeline only handles constructs Ore never emits (always-inline functions,
    /// coroutines), and building it costs about 70 µs per module.
    pub fn optimize(&self, level: u8) -> Result<(), String> {
        if level == 0 {
            return Ok(());
        }
        let pipeline = c_string(&format!("default<O{level}>"));
        with_host_target_machine(level, |tm| {
            // SAFETY: module, target machine and options are live for the call; the
            // options object is disposed right after.
            unsafe {
                let options = LLVMCreatePassBuilderOptions();
                let err = LLVMRunPasses(self.module, pipeline.as_ptr(), tm, options);
                LLVMDisposePassBuilderOptions(options);
                super::check(err).map_err(|e| e.0)
            }
        })
    }

    /// Compiles the module to a relocatable object file with this thread's target
    /// machine for `codegen_level`.
    pub fn emit_object(&self, codegen_level: u8) -> Result<ObjectFile, String> {
        self.emit(codegen_level, LLVMCodeGenFileType::LLVMObjectFile).map(ObjectFile)
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
                return Err(unsafe { owned_message(message) });
            }
            Ok(buffer)
        })
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
