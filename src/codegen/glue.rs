//! Glue between the host and Ore code: host-entry trampolines (one per signature)
//! and the thunks through which Ore code calls registered Rust closures.

use super::{c_type, declare_runtime, ore_fn_type, value_type};
use crate::abi::{self, RuntimeFn};
use crate::llvm::ir::{IrModule, Type, Value};
use crate::types::{CType, ExternSig, FnSig, Ty};
use std::ffi::CStr;

/// The symbol of the host-entry trampoline for one signature.
pub fn trampoline_symbol(sig: &FnSig) -> String {
    let code = |t: &Ty| match t {
        Ty::I64 => 'i',
        Ty::F64 => 'f',
        Ty::Bool => 'b',
        Ty::Str => 's',
        Ty::Ptr => 'p',
        Ty::ArrayI64 => 'a',
        Ty::ArrayF64 => 'd',
        Ty::Unit | Ty::Never => 'u',
    };
    let params: String = sig.params.iter().map(code).collect();
    format!("{}{params}.{}", abi::TRAMPOLINE_PREFIX, code(&sig.ret))
}

/// The symbol of the host-entry trampoline for a C function of one signature.
pub fn c_trampoline_symbol(sig: &ExternSig) -> String {
    let code = |t: &CType| match t {
        CType::I64 => 'i',
        CType::I32 => 'w',
        CType::F64 => 'f',
        CType::Bool => 'b',
        CType::Str => 's',
        CType::Ptr => 'p',
        CType::Unit => 'u',
    };
    let params: String = sig.params.iter().map(code).collect();
    format!("{}c.{params}.{}", abi::TRAMPOLINE_PREFIX, code(&sig.ret))
}

/// Generates `void @ore.tramp.SIG(ptr fn, ptr ctx, ptr args, ptr ret)`, which calls
/// an Ore function of signature `sig` with arguments read from 8-byte slots, the
/// shape `runtime::HostCall::invoke` calls.
pub fn generate_trampoline(sig: &FnSig, triple: &CStr, data_layout: &CStr) -> IrModule {
    let name = trampoline_symbol(sig);
    let m = IrModule::new(&name, triple, data_layout);
    emit_trampoline(
        &m,
        &name,
        ore_fn_type(&m, sig),
        true,
        sig.params.len(),
        &|i, slot| match sig.params[i] {
            Ty::Bool => m.trunc(m.load(m.i64(), slot), m.i1()),
            other => m.load(value_type(&m, other).expect("parameters have values"), slot),
        },
        &|result, ret| match sig.ret {
            Ty::Bool => m.store(m.zext(result, m.i64()), ret),
            Ty::Unit | Ty::Never => {}
            _ => m.store(result, ret),
        },
    );
    m
}

/// Generates the same shape for a C function of signature `sig` (an LLVM IR
/// module's): no context is passed to it; an `i32` result is widened to i64 and a
/// `bool` to one 8-byte slot.
pub fn generate_c_trampoline(sig: &ExternSig, triple: &CStr, data_layout: &CStr) -> IrModule {
    let name = c_trampoline_symbol(sig);
    let m = IrModule::new(&name, triple, data_layout);
    let params: Vec<Type<'_>> = sig.params.iter().map(|c| c_type(&m, *c)).collect();
    let fn_type = m.fn_type(c_type(&m, sig.ret), &params);
    emit_trampoline(
        &m,
        &name,
        fn_type,
        false,
        sig.params.len(),
        &|i, slot| match sig.params[i] {
            CType::I32 => m.trunc(m.load(m.i64(), slot), m.i32()),
            CType::Bool => m.trunc(m.load(m.i64(), slot), m.i8()),
            other => m.load(c_type(&m, other), slot),
        },
        &|result, ret| match sig.ret {
            CType::I32 => m.store(m.sext(result, m.i64()), ret),
            CType::Bool => m.store(m.zext(result, m.i64()), ret),
            CType::Unit => {}
            _ => m.store(result, ret),
        },
    );
    m
}

/// Defines `void @name(ptr fn, ptr ctx, ptr args, ptr ret)`: reads `count`
/// arguments from the 8-byte slots at `args` (`arg` turns slot `i` into the
/// argument), calls `fn` (of type `fn_type`, given `ctx` first if `pass_ctx`), and
/// has `store` put the result at `ret`.
fn emit_trampoline<'m>(
    m: &'m IrModule,
    name: &str,
    fn_type: Type<'m>,
    pass_ctx: bool,
    count: usize,
    arg: &dyn Fn(usize, Value<'m>) -> Value<'m>,
    store: &dyn Fn(Value<'m>, Value<'m>),
) {
    let ptr = m.ptr();
    let tramp = m.add_function(name, m.fn_type(m.void(), &[ptr, ptr, ptr, ptr]), false);
    // Glue keeps a frame pointer (a push and a pop per call), so debuggers walk from
    // Ore frames back into the host.
    m.add_string_fn_attribute(tramp, "frame-pointer", "all");
    m.position_at_end(m.append_block(tramp, "entry"));
    let (target, ctx, args, ret) = (m.param(tramp, 0), m.param(tramp, 1), m.param(tramp, 2), m.param(tramp, 3));
    let mut values = if pass_ctx { vec![ctx] } else { Vec::new() };
    for i in 0..count {
        values.push(arg(i, m.gep(m.i64(), args, m.const_int(m.i64(), i as i64))));
    }
    let result = m.call_indirect(fn_type, target, &values);
    store(result, ret);
    m.ret_void();
    debug_assert_eq!(m.verify(), Ok(()));
}

/// Generates `RET NAME(params...)` with the C calling convention: it stores its
/// arguments as 8-byte slots and calls `ore.rt.call_closure(closure, slots)`, which
/// runs a Rust closure registered as a host function and returns its result's bits.
pub fn generate_closure_thunk(name: &str, sig: &ExternSig, closure: usize, triple: &CStr, data_layout: &CStr) -> IrModule {
    let m = IrModule::new(name, triple, data_layout);
    {
        let i64t = m.i64();
        let params: Vec<Type<'_>> = sig.params.iter().map(|c| c_type(&m, *c)).collect();
        let thunk = m.add_function(name, m.fn_type(c_type(&m, sig.ret), &params), false);
        m.add_string_fn_attribute(thunk, "frame-pointer", "all");
        m.position_at_end(m.append_block(thunk, "entry"));
        let slots = m.alloca(m.array_type(i64t, sig.params.len().max(1) as u32));
        for (i, c) in sig.params.iter().enumerate() {
            let p = m.param(thunk, i as u32);
            let bits = match c {
                CType::F64 => m.bitcast(p, i64t),
                CType::I32 => m.sext(p, i64t),
                CType::Bool => m.zext(p, i64t),
                CType::Str | CType::Ptr => m.ptr_to_int(p),
                _ => p,
            };
            m.store(bits, m.gep(i64t, slots, m.const_int(i64t, i as i64)));
        }
        let dispatch = declare_runtime(&m, RuntimeFn::CallClosure);
        let closure_ptr = m.int_to_ptr(m.const_int(i64t, closure as i64));
        let bits = m.call(dispatch, &[closure_ptr, slots]);
        match sig.ret {
            CType::Unit => m.ret_void(),
            CType::F64 => m.ret(m.bitcast(bits, m.f64())),
            CType::I32 => m.ret(m.trunc(bits, m.i32())),
            CType::Bool => m.ret(m.trunc(bits, m.i8())),
            CType::Str | CType::Ptr => m.ret(m.int_to_ptr(bits)),
            CType::I64 => m.ret(bits),
        }
    }
    debug_assert_eq!(m.verify(), Ok(()));
    m
}
