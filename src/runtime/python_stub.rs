//! The `py_*` built-ins in a build without the `python` feature: the checker
//! refuses Python (see `Policy::python`), so these run only for IR that names
//! them, and fail.

use super::python_values::{Arg, Conversion};
use super::RuntimeError;

fn unavailable() -> RuntimeError {
    RuntimeError::Python("Ore was built without the `python` feature".into())
}

/// Nothing to start.
pub fn ensure_initialized() {}

/// Nothing to wait for.
pub fn finish() {}

pub fn exec(_code: &str) -> Result<(), RuntimeError> {
    Err(unavailable())
}

pub fn eval(_expr: &str, _conversion: Conversion) -> Result<i64, RuntimeError> {
    Err(unavailable())
}

pub fn call(_path: &str, _args: &[Arg<'_>], _conversion: Conversion) -> Result<i64, RuntimeError> {
    Err(unavailable())
}
