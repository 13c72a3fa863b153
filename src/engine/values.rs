//! Values crossing between the host and Ore code, and typed host functions.

use crate::runtime::{format::python_repr, HostCall};
use crate::types::{CType, ExternSig, Ty};
use std::ffi::{c_char, c_void, CStr};
use std::fmt;

/// A value passed to or returned from Ore code.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Unit,
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
    Ptr(usize),
    ArrayI64(Vec<i64>),
    ArrayF64(Vec<f64>),
}

impl Value {
    pub fn ty(&self) -> Ty {
        match self {
            Value::Unit => Ty::Unit,
            Value::I64(_) => Ty::I64,
            Value::F64(_) => Ty::F64,
            Value::Bool(_) => Ty::Bool,
            Value::Str(_) => Ty::Str,
            Value::Ptr(_) => Ty::Ptr,
            Value::ArrayI64(_) => Ty::ArrayI64,
            Value::ArrayF64(_) => Ty::ArrayF64,
        }
    }
}

/// Formats as Ore's `print` does.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("()"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => f.write_str(&python_repr(*v)),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(s) => f.write_str(s),
            Value::Ptr(p) => write!(f, "{p:#x}"),
            Value::ArrayI64(v) => write!(f, "{v:?}"),
            Value::ArrayF64(v) => {
                let items: Vec<String> = v.iter().map(|x| python_repr(*x)).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

/// # Safety
/// `raw` must be a value of type `ty` returned by JIT'd code during `call`.
pub(super) unsafe fn decode(ty: Ty, raw: u64, call: &HostCall) -> Value {
    match ty {
        Ty::I64 => Value::I64(raw as i64),
        Ty::F64 => Value::F64(f64::from_bits(raw)),
        Ty::Bool => Value::Bool(raw != 0),
        Ty::Ptr => Value::Ptr(raw as usize),
        Ty::Str if raw == 0 => Value::Str(String::new()),
        Ty::Str => Value::Str(CStr::from_ptr(raw as *const c_char).to_string_lossy().into_owned()),
        Ty::ArrayI64 => Value::ArrayI64(call.read_array(raw)),
        Ty::ArrayF64 => Value::ArrayF64(call.read_array(raw).into_iter().map(|b| f64::from_bits(b as u64)).collect()),
        Ty::Unit | Ty::Never => Value::Unit,
    }
}

// ---- typed host functions ----

/// A Rust type that crosses the C boundary as one of `CType`'s parameter types.
pub trait HostParam {
    const C_TYPE: CType;
}

/// A Rust type that crosses the C boundary as a result.
pub trait HostResult {
    const C_TYPE: CType;
}

macro_rules! host_types {
    ($($t:ty => $c:ident),*) => {$(
        impl HostParam for $t { const C_TYPE: CType = CType::$c; }
        impl HostResult for $t { const C_TYPE: CType = CType::$c; }
    )*};
}
host_types!(i64 => I64, i32 => I32, f64 => F64, bool => Bool, *const c_char => Str, *mut c_void => Ptr);

impl HostResult for () {
    const C_TYPE: CType = CType::Unit;
}

/// An `extern "C" fn` the engine can register (see `Namespace::register`).
pub trait HostFn {
    fn signature() -> ExternSig;
    fn address(self) -> usize;
}

macro_rules! host_fn {
    ($($p:ident),*) => {
        impl<R: HostResult, $($p: HostParam),*> HostFn for extern "C" fn($($p),*) -> R {
            fn signature() -> ExternSig {
                ExternSig { params: vec![$($p::C_TYPE),*], ret: R::C_TYPE }
            }
            fn address(self) -> usize {
                self as *const () as usize
            }
        }
    };
}
host_fn!();
host_fn!(A);
host_fn!(A, B);
host_fn!(A, B, C);
host_fn!(A, B, C, D);
host_fn!(A, B, C, D, E);
host_fn!(A, B, C, D, E, F);

pub(super) fn check_arguments(name: &str, sig: &crate::types::FnSig, args: &[Value]) -> Result<(), super::Error> {
    if args.len() != sig.params.len() {
        return Err(super::Error::Arity { name: name.to_string(), expected: sig.params.len(), given: args.len() });
    }
    for (index, (arg, expected)) in args.iter().zip(&sig.params).enumerate() {
        if arg.ty() != *expected {
            return Err(super::Error::ArgumentType { name: name.to_string(), index, expected: *expected, given: arg.ty() });
        }
    }
    Ok(())
}

/// Encodes an argument as the 8-byte slot the entry trampoline reads. `str`
/// arguments are copied into `strings`, which must outlive the call.
pub(super) fn encode(arg: &Value, call: &HostCall, strings: &mut Vec<std::ffi::CString>) -> Result<u64, crate::runtime::RuntimeError> {
    Ok(match arg {
        Value::I64(v) => *v as u64,
        Value::F64(v) => v.to_bits(),
        Value::Bool(b) => *b as u64,
        Value::Ptr(p) => *p as u64,
        Value::Str(s) => encode_str(s, strings),
        Value::ArrayI64(v) => call.array(v.iter().copied())?,
        Value::ArrayF64(v) => call.array(v.iter().map(|x| x.to_bits() as i64))?,
        Value::Unit => unreachable!("check_arguments rejects unit arguments"),
    })
}

/// Copies `s` into `strings` (which must outlive the call); returns the `str`.
pub(super) fn encode_str(s: &str, strings: &mut Vec<std::ffi::CString>) -> u64 {
    strings.push(crate::llvm::c_string(s));
    strings.last().expect("pushed above").as_ptr() as u64
}

/// A parameter type of a host closure, decoded from its 8-byte slot.
pub trait ClosureParam: Sized {
    const C_TYPE: CType;
    fn from_slot(bits: u64) -> Self;
}

/// A result type of a host closure, encoded into 8 bits-carrying bytes.
pub trait ClosureResult {
    const C_TYPE: CType;
    fn into_slot(self) -> u64;
}

impl ClosureParam for i64 {
    const C_TYPE: CType = CType::I64;
    fn from_slot(bits: u64) -> Self {
        bits as i64
    }
}
impl ClosureParam for f64 {
    const C_TYPE: CType = CType::F64;
    fn from_slot(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}
impl ClosureParam for bool {
    const C_TYPE: CType = CType::Bool;
    fn from_slot(bits: u64) -> Self {
        bits != 0
    }
}
/// A `str` argument, copied. A NULL `str` (a C function's result) panics, which
/// ends the Ore call with an error naming the host function.
impl ClosureParam for String {
    const C_TYPE: CType = CType::Str;
    fn from_slot(bits: u64) -> Self {
        if bits == 0 {
            panic!("null string passed as an argument");
        }
        // SAFETY: Ore passes `str` as a NUL-terminated string alive during the call.
        unsafe { CStr::from_ptr(bits as *const c_char) }.to_string_lossy().into_owned()
    }
}
impl ClosureResult for i64 {
    const C_TYPE: CType = CType::I64;
    fn into_slot(self) -> u64 {
        self as u64
    }
}
impl ClosureResult for f64 {
    const C_TYPE: CType = CType::F64;
    fn into_slot(self) -> u64 {
        self.to_bits()
    }
}
impl ClosureResult for bool {
    const C_TYPE: CType = CType::Bool;
    fn into_slot(self) -> u64 {
        self as u64
    }
}
impl ClosureResult for () {
    const C_TYPE: CType = CType::Unit;
    fn into_slot(self) -> u64 {
        0
    }
}

/// A Rust closure usable as a host function (see `Namespace::register_closure`), in the
/// spirit of wasmtime's `Linker::func_wrap`.
pub trait IntoHostClosure<Params, R> {
    fn signature() -> ExternSig;
    fn into_closure(self, name: &str) -> crate::runtime::HostClosure;
}

macro_rules! closure_impl {
    ($($p:ident),*) => {
        impl<F, R, $($p),*> IntoHostClosure<($($p,)*), R> for F
        where
            F: Fn($($p),*) -> R + Send + Sync + 'static,
            R: ClosureResult,
            $($p: ClosureParam),*
        {
            fn signature() -> ExternSig {
                ExternSig { params: vec![$($p::C_TYPE),*], ret: R::C_TYPE }
            }
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_closure(self, name: &str) -> crate::runtime::HostClosure {
                let arity = <[&str]>::len(&[$(stringify!($p)),*]);
                crate::runtime::HostClosure {
                    name: name.to_string(),
                    arity,
                    call: Box::new(move |slots: &[u64]| {
                        let mut it = slots.iter().copied();
                        $(let $p = $p::from_slot(it.next().unwrap_or(0));)*
                        self($($p),*).into_slot()
                    }),
                }
            }
        }
    };
}
closure_impl!();
closure_impl!(A);
closure_impl!(A, B);
closure_impl!(A, B, C);
closure_impl!(A, B, C, D);
