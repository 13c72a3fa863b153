//! Building IR: types, constants, functions, blocks and instructions. Every
//! `Value`, `Type` and `Block` borrows the `IrModule`, so none outlives the context
//! that owns it.

use super::super::c_string;
use super::IrModule;
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMIntPredicate, LLVMLinkage, LLVMRealPredicate};
use std::marker::PhantomData;

pub use llvm_sys::LLVMIntPredicate as IntPredicate;
pub use llvm_sys::LLVMRealPredicate as RealPredicate;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Value<'m>(LLVMValueRef, PhantomData<&'m IrModule>);
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Type<'m>(LLVMTypeRef, PhantomData<&'m IrModule>);
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Block<'m>(LLVMBasicBlockRef, PhantomData<&'m IrModule>);

impl Value<'_> {
    pub(super) fn raw(self) -> LLVMValueRef {
        self.0
    }
}

impl Block<'_> {
    pub(super) fn raw(self) -> LLVMBasicBlockRef {
        self.0
    }
}

/// A function and its type, which calls need under opaque pointers.
#[derive(Clone, Copy, Debug)]
pub struct Function<'m> {
    pub value: Value<'m>,
    pub ty: Type<'m>,
}

fn name_ptr() -> *const libc::c_char {
    c"".as_ptr()
}

// The SAFETY argument of every builder call generated below: the operands are
// `Value`s and `Type`s whose lifetime ties them to `&'m self`, so they belong to
// this module's context and are alive; the builder is this module's. Whether the
// operand types agree (not adding an i64 to a double) does not decide soundness:
// LLVM asserts or the verifier reports it, and the typed IR codegen consumes makes
// such a mistake a bug in Ore, never a user error.

/// Type getters of the context.
macro_rules! types {
    ($($name:ident => $llvm:ident),* $(,)?) => {$(
        pub fn $name(&self) -> Type<'_> {
            // SAFETY: the context is alive for 'self (see above).
            self.ty(unsafe { $llvm(self.ctx) })
        }
    )*};
}

/// Two-operand instructions.
macro_rules! binary {
    ($($name:ident => $llvm:ident),* $(,)?) => {$(
        pub fn $name<'m>(&'m self, a: Value<'m>, b: Value<'m>) -> Value<'m> {
            // SAFETY: operands of this module, built by its builder (see above).
            self.value(unsafe { $llvm(self.builder, a.0, b.0, name_ptr()) })
        }
    )*};
}

/// One-operand instructions.
macro_rules! unary {
    ($($name:ident => $llvm:ident),* $(,)?) => {$(
        pub fn $name<'m>(&'m self, a: Value<'m>) -> Value<'m> {
            // SAFETY: an operand of this module, built by its builder (see above).
            self.value(unsafe { $llvm(self.builder, a.0, name_ptr()) })
        }
    )*};
}

/// Conversions of a value to a type.
macro_rules! casts {
    ($($name:ident => $llvm:ident),* $(,)?) => {$(
        pub fn $name<'m>(&'m self, v: Value<'m>, ty: Type<'m>) -> Value<'m> {
            // SAFETY: a value and a type of this module, built by its builder (see above).
            self.value(unsafe { $llvm(self.builder, v.0, ty.0, name_ptr()) })
        }
    )*};
}

impl IrModule {
    fn value(&self, raw: LLVMValueRef) -> Value<'_> {
        Value(raw, PhantomData)
    }

    fn ty(&self, raw: LLVMTypeRef) -> Type<'_> {
        Type(raw, PhantomData)
    }

    // ---- types ----
    types! {
        i1 => LLVMInt1TypeInContext,
        i8 => LLVMInt8TypeInContext,
        i32 => LLVMInt32TypeInContext,
        i64 => LLVMInt64TypeInContext,
        f64 => LLVMDoubleTypeInContext,
        void => LLVMVoidTypeInContext,
    }
    pub fn ptr(&self) -> Type<'_> {
        // SAFETY: the context is alive for 'self; address space 0 is the default.
        self.ty(unsafe { LLVMPointerTypeInContext(self.ctx, 0) })
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

    /// An exported constant array of addresses named `name` (`values` are
    /// globals or functions); returns its address.
    pub fn address_table<'m>(&'m self, name: &str, values: &[Value<'m>]) -> Value<'m> {
        let cname = c_string(name);
        let mut elements: Vec<LLVMValueRef> = values.iter().map(|v| v.0).collect();
        // SAFETY: the elements are constants of this module; LLVM copies the array.
        unsafe {
            let init = LLVMConstArray2(self.ptr().0, elements.as_mut_ptr(), elements.len() as u64);
            let global = LLVMAddGlobal(self.module, LLVMTypeOf(init), cname.as_ptr());
            LLVMSetInitializer(global, init);
            LLVMSetGlobalConstant(global, 1);
            self.value(global)
        }
    }

    /// The address of `name`, a symbol the linker resolves (such as a slot,
    /// `abi::slot_symbol`), declared on first use. Not `dso_local`: under the small
    /// code model the code reaches it through the GOT, wherever it lies.
    pub fn external_global(&self, name: &str) -> Value<'_> {
        let cname = c_string(name);
        // SAFETY: lookups and declarations in our own module.
        unsafe {
            let existing = LLVMGetNamedGlobal(self.module, cname.as_ptr());
            if !existing.is_null() {
                return self.value(existing);
            }
            let global = LLVMAddGlobal(self.module, LLVMInt64TypeInContext(self.ctx), cname.as_ptr());
            LLVMSetAlignment(global, 8);
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
        if let Some(attr) = self.enum_attribute(name) {
            // SAFETY: `f` is a function of our module, `attr` of our context.
            unsafe { LLVMAddAttributeAtIndex(f.value.0, llvm_sys::LLVMAttributeFunctionIndex, attr) }
        }
    }

    /// Adds an enum attribute such as `nomerge` to one call (`call` is a call
    /// instruction this builder made).
    pub fn add_call_attribute(&self, call: Value<'_>, name: &str) {
        if let Some(attr) = self.enum_attribute(name) {
            // SAFETY: `call` is a call instruction of our module, `attr` of our context.
            unsafe { LLVMAddCallSiteAttribute(call.0, llvm_sys::LLVMAttributeFunctionIndex, attr) }
        }
    }

    /// The enum attribute `name` of our context; `None` for a name LLVM does not
    /// know (kind 0), which is skipped rather than attached.
    fn enum_attribute(&self, name: &str) -> Option<LLVMAttributeRef> {
        // SAFETY: attribute kinds are looked up by name, and created in our context.
        unsafe {
            let kind = LLVMGetEnumAttributeKindForName(name.as_ptr().cast(), name.len());
            (kind != 0).then(|| LLVMCreateEnumAttribute(self.ctx, kind, 0))
        }
    }

    /// A `key="value"` attribute on `f` (such as `"frame-pointer"="all"`).
    pub fn add_string_fn_attribute(&self, f: Function<'_>, key: &str, value: &str) {
        // SAFETY: LLVM copies both strings into our context; `f` is ours.
        unsafe {
            let attr =
                LLVMCreateStringAttribute(self.ctx, key.as_ptr().cast(), key.len() as u32, value.as_ptr().cast(), value.len() as u32);
            LLVMAddAttributeAtIndex(f.value.0, llvm_sys::LLVMAttributeFunctionIndex, attr);
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
    binary! {
        add => LLVMBuildAdd, sub => LLVMBuildSub, mul => LLVMBuildMul, sdiv => LLVMBuildSDiv, srem => LLVMBuildSRem,
        shl => LLVMBuildShl, ashr => LLVMBuildAShr, and => LLVMBuildAnd, or => LLVMBuildOr, xor => LLVMBuildXor,
        fadd => LLVMBuildFAdd, fsub => LLVMBuildFSub, fmul => LLVMBuildFMul, fdiv => LLVMBuildFDiv, frem => LLVMBuildFRem,
    }
    unary! { not => LLVMBuildNot, fneg => LLVMBuildFNeg }
    casts! { zext => LLVMBuildZExt, sext => LLVMBuildSExt, trunc => LLVMBuildTrunc, sitofp => LLVMBuildSIToFP, bitcast => LLVMBuildBitCast }
    pub fn icmp<'m>(&'m self, p: LLVMIntPredicate, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        // SAFETY: operands of this module (`binary!`).
        self.value(unsafe { LLVMBuildICmp(self.builder, p, a.0, b.0, name_ptr()) })
    }
    pub fn fcmp<'m>(&'m self, p: LLVMRealPredicate, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        // SAFETY: operands of this module (`binary!`).
        self.value(unsafe { LLVMBuildFCmp(self.builder, p, a.0, b.0, name_ptr()) })
    }
    pub fn select<'m>(&'m self, c: Value<'m>, a: Value<'m>, b: Value<'m>) -> Value<'m> {
        // SAFETY: operands of this module (`binary!`).
        self.value(unsafe { LLVMBuildSelect(self.builder, c.0, a.0, b.0, name_ptr()) })
    }
    pub fn ptr_to_int<'m>(&'m self, v: Value<'m>) -> Value<'m> {
        // SAFETY: a pointer of this module, to i64 of its context.
        self.value(unsafe { LLVMBuildPtrToInt(self.builder, v.0, LLVMInt64TypeInContext(self.ctx), name_ptr()) })
    }
    pub fn int_to_ptr<'m>(&'m self, v: Value<'m>) -> Value<'m> {
        // SAFETY: an integer of this module, to the pointer type of its context.
        self.value(unsafe { LLVMBuildIntToPtr(self.builder, v.0, LLVMPointerTypeInContext(self.ctx, 0), name_ptr()) })
    }
    /// A `monotonic` atomic load of a naturally aligned value of `bytes` bytes: reads
    /// a value other threads may replace at any time, without ever being torn or
    /// hoisted out of a loop.
    pub fn load_atomic<'m>(&'m self, ty: Type<'m>, bytes: u32, ptr: Value<'m>) -> Value<'m> {
        self.ordered_load(ty, bytes, ptr, llvm_sys::LLVMAtomicOrdering::LLVMAtomicOrderingMonotonic)
    }
    /// An `acquire` load: as `load_atomic`, and no later load moves above it, so it
    /// sees what the storing thread wrote before its release store.
    pub fn load_acquire<'m>(&'m self, ty: Type<'m>, bytes: u32, ptr: Value<'m>) -> Value<'m> {
        self.ordered_load(ty, bytes, ptr, llvm_sys::LLVMAtomicOrdering::LLVMAtomicOrderingAcquire)
    }
    fn ordered_load<'m>(&'m self, ty: Type<'m>, bytes: u32, ptr: Value<'m>, ordering: llvm_sys::LLVMAtomicOrdering) -> Value<'m> {
        // SAFETY: operands of this module; ordering and alignment are set on the
        // load just built.
        unsafe {
            let load = LLVMBuildLoad2(self.builder, ty.0, ptr.0, name_ptr());
            LLVMSetOrdering(load, ordering);
            LLVMSetAlignment(load, bytes);
            self.value(load)
        }
    }
    /// A volatile load (kept, and kept in place, but not atomic in LLVM's model).
    pub fn load_volatile<'m>(&'m self, ty: Type<'m>, bytes: u32, ptr: Value<'m>) -> Value<'m> {
        // SAFETY: operands of this module; the flag and alignment are set on the
        // load just built.
        unsafe {
            let load = LLVMBuildLoad2(self.builder, ty.0, ptr.0, name_ptr());
            LLVMSetVolatile(load, 1);
            LLVMSetAlignment(load, bytes);
            self.value(load)
        }
    }
    /// A volatile store, as `load_volatile`.
    pub fn store_volatile<'m>(&'m self, v: Value<'m>, bytes: u32, ptr: Value<'m>) {
        // SAFETY: as `load_volatile`.
        unsafe {
            let store = LLVMBuildStore(self.builder, v.0, ptr.0);
            LLVMSetVolatile(store, 1);
            LLVMSetAlignment(store, bytes);
        }
    }
    pub fn alloca<'m>(&'m self, ty: Type<'m>) -> Value<'m> {
        // SAFETY: a type of this module; the builder is positioned in a function.
        self.value(unsafe { LLVMBuildAlloca(self.builder, ty.0, name_ptr()) })
    }
    pub fn load<'m>(&'m self, ty: Type<'m>, ptr: Value<'m>) -> Value<'m> {
        // SAFETY: operands of this module.
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
        // SAFETY: operands of this module.
        unsafe { LLVMBuildStore(self.builder, v.0, ptr.0) };
    }
    /// `&ptr[index]` for elements of type `ty`, known to be in bounds.
    pub fn gep<'m>(&'m self, ty: Type<'m>, ptr: Value<'m>, index: Value<'m>) -> Value<'m> {
        let mut idx = [index.0];
        // SAFETY: operands of this module; LLVM copies the index array.
        self.value(unsafe { LLVMBuildInBoundsGEP2(self.builder, ty.0, ptr.0, idx.as_mut_ptr(), 1, name_ptr()) })
    }
    pub fn call<'m>(&'m self, f: Function<'m>, args: &[Value<'m>]) -> Value<'m> {
        self.call_indirect(f.ty, f.value, args)
    }
    pub fn call_indirect<'m>(&'m self, fn_ty: Type<'m>, callee: Value<'m>, args: &[Value<'m>]) -> Value<'m> {
        let mut raw: Vec<LLVMValueRef> = args.iter().map(|a| a.0).collect();
        // SAFETY: callee, type and arguments of this module; LLVM copies the array.
        self.value(unsafe { LLVMBuildCall2(self.builder, fn_ty.0, callee.0, raw.as_mut_ptr(), raw.len() as u32, name_ptr()) })
    }
    pub fn br(&self, dest: Block<'_>) {
        // SAFETY: a block of this module.
        unsafe { LLVMBuildBr(self.builder, dest.0) };
    }
    pub fn cond_br<'m>(&'m self, c: Value<'m>, then: Block<'m>, els: Block<'m>) {
        // SAFETY: operands of this module.
        unsafe { LLVMBuildCondBr(self.builder, c.0, then.0, els.0) };
    }
    pub fn ret<'m>(&'m self, v: Value<'m>) {
        // SAFETY: a value of this module.
        unsafe { LLVMBuildRet(self.builder, v.0) };
    }
    pub fn ret_void(&self) {
        // SAFETY: the builder is positioned in a block of this module.
        unsafe { LLVMBuildRetVoid(self.builder) };
    }
    pub fn unreachable(&self) {
        // SAFETY: the builder is positioned in a block of this module.
        unsafe { LLVMBuildUnreachable(self.builder) };
    }
    pub fn phi<'m>(&'m self, ty: Type<'m>, incoming: &[(Value<'m>, Block<'m>)]) -> Value<'m> {
        let mut values: Vec<LLVMValueRef> = incoming.iter().map(|(v, _)| v.0).collect();
        let mut blocks: Vec<LLVMBasicBlockRef> = incoming.iter().map(|(_, b)| b.0).collect();
        // SAFETY: values and blocks of this module; LLVM copies both arrays.
        unsafe {
            let phi = LLVMBuildPhi(self.builder, ty.0, name_ptr());
            LLVMAddIncoming(phi, values.as_mut_ptr(), blocks.as_mut_ptr(), values.len() as u32);
            self.value(phi)
        }
    }
}
