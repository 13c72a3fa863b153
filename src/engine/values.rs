//! Values crossing between the host and Ore code.

use crate::runtime::{format::python_repr, HostCall};
use crate::types::Ty;
use std::ffi::{c_char, CStr};
use std::fmt;

/// A value passed to or returned from Ore code.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// The value of a function returning nothing.
    Unit,
    /// An Ore `i64`.
    I64(i64),
    /// An Ore `f64`.
    F64(f64),
    /// An Ore `bool`.
    Bool(bool),
    /// An Ore `str`, copied.
    Str(String),
    /// An Ore `ptr`: an address Ore code can only pass on.
    Ptr(usize),
    /// An Ore `[i64]`, copied.
    ArrayI64(Vec<i64>),
    /// An Ore `[f64]`, copied.
    ArrayF64(Vec<f64>),
}

/// An argument of `Func::call_args`: a `Value`, or an array that Ore code works
/// on in place, without a copy. What the code writes to a lent array, the caller
/// sees; the borrow lasts for the call only, and the array, if the function
/// returns it, comes back copied, as every array result does.
#[derive(Debug)]
pub enum Arg<'a> {
    /// A value, copied in as `Func::call` copies it.
    Value(Value),
    /// An `[i64]` whose elements are these.
    I64s(&'a mut [i64]),
    /// An `[f64]` whose elements are these.
    F64s(&'a mut [f64]),
}

impl From<Value> for Arg<'_> {
    fn from(value: Value) -> Self {
        Arg::Value(value)
    }
}

impl Arg<'_> {
    /// Its Ore type.
    pub fn ty(&self) -> Ty {
        match self {
            Arg::Value(v) => v.ty(),
            Arg::I64s(_) => Ty::ArrayI64,
            Arg::F64s(_) => Ty::ArrayF64,
        }
    }

    /// Encodes it as `encode` does a `Value`; a lent array's elements stay where
    /// they are, borrowed by the call (`self` is borrowed for as long).
    pub(super) fn encode(&mut self, call: &HostCall, strings: &mut Vec<std::ffi::CString>) -> Result<u64, crate::runtime::RuntimeError> {
        match self {
            Arg::Value(v) => encode(v, call, strings),
            // SAFETY: the slice is borrowed mutably for the whole call (the caller
            // of `Func::call_args` holds `&mut` to it until the call returns), so
            // nothing else accesses its elements meanwhile; f64s are 8-byte words.
            Arg::I64s(s) => unsafe { call.lend(s.as_mut_ptr(), s.len()) },
            // SAFETY: as above.
            Arg::F64s(s) => unsafe { call.lend(s.as_mut_ptr().cast(), s.len()) },
        }
    }
}

impl Value {
    /// Its Ore type.
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
        // SAFETY: a non-null `str` result is a NUL-terminated string alive during
        // the call (the caller's contract).
        Ty::Str => Value::Str(unsafe { CStr::from_ptr(raw as *const c_char) }.to_string_lossy().into_owned()),
        // SAFETY: an array result is an array of the call's arena (the caller's contract).
        Ty::ArrayI64 => Value::ArrayI64(unsafe { call.read_array(raw) }),
        // SAFETY: as above.
        Ty::ArrayF64 => Value::ArrayF64(unsafe { call.read_array(raw) }.into_iter().map(|b| f64::from_bits(b as u64)).collect()),
        Ty::Unit | Ty::Never => Value::Unit,
    }
}

/// Checks arguments of types `args` against `sig`.
pub(super) fn check_arguments(name: &str, sig: &crate::types::FnSig, args: impl ExactSizeIterator<Item = Ty>) -> Result<(), super::Error> {
    if args.len() != sig.params.len() {
        return Err(super::Error::Arity { name: name.to_string(), expected: sig.params.len(), given: args.len() });
    }
    for (index, (given, expected)) in args.zip(&sig.params).enumerate() {
        if given != *expected {
            return Err(super::Error::ArgumentType { name: name.to_string(), index, expected: *expected, given });
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
