//! What the `py_*` built-ins exchange with Python, in builds with or without it.

use std::ffi::CStr;

/// How a Python result is converted for Ore.
#[derive(Clone, Copy)]
pub enum Conversion {
    Drop,
    I64,
    F64,
    Bool,
    /// A `str` without NUL, copied into the call's arena (it lives as long as arrays).
    Str,
}

impl Conversion {
    pub fn from_code(code: i64) -> Conversion {
        use crate::abi::py_conversion as code_of;
        match code {
            code_of::I64 => Conversion::I64,
            code_of::F64 => Conversion::F64,
            code_of::BOOL => Conversion::Bool,
            code_of::STR => Conversion::Str,
            _ => Conversion::Drop,
        }
    }
}

/// An argument of `py_call`.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub enum Arg<'a> {
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(&'a CStr),
}
