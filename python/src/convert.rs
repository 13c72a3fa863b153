//! Between Python objects and Ore values, and Ore errors and Python exceptions.

use ore::{Arg, CType, Error, RuntimeError, Ty, Value};
use pyo3::buffer::{Element, PyBuffer};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};
use std::cell::RefCell;

/// A Python value as an argument of Ore type `ty`: `int` for `i64` (an
/// `OverflowError` outside its range) and `ptr`, `float` (or `int`) for `f64`,
/// `bool`, `str`, and lists of `int` or `float` for arrays.
pub fn to_value(arg: &Bound<'_, PyAny>, ty: Ty, what: &dyn Fn() -> String) -> PyResult<Value> {
    let wrong = || PyTypeError::new_err(format!("{} must be `{ty}`, not {}", what(), type_name(arg)));
    Ok(match ty {
        Ty::I64 if arg.is_instance_of::<PyInt>() && !arg.is_instance_of::<PyBool>() => Value::I64(arg.extract()?),
        Ty::F64 if (arg.is_instance_of::<PyFloat>() || arg.is_instance_of::<PyInt>()) && !arg.is_instance_of::<PyBool>() => {
            Value::F64(arg.extract()?)
        }
        Ty::Bool if arg.is_instance_of::<PyBool>() => Value::Bool(arg.extract()?),
        Ty::Str => Value::Str(arg.extract().map_err(|_| wrong())?),
        Ty::Ptr if arg.is_instance_of::<PyInt>() => Value::Ptr(arg.extract()?),
        Ty::ArrayI64 => Value::ArrayI64(elements(arg).map_err(|_| wrong())?),
        Ty::ArrayF64 => Value::ArrayF64(elements(arg).map_err(|_| wrong())?),
        _ => return Err(wrong()),
    })
}

/// A buffer an array argument borrows: writable, C-contiguous, one-dimensional,
/// aligned, of the argument's element type.
pub enum Lent {
    I64(PyBuffer<i64>),
    F64(PyBuffer<f64>),
}

impl Lent {
    /// `arg`'s buffer, if it can be lent to an argument of type `ty`.
    pub fn of(arg: &Bound<'_, PyAny>, ty: Ty) -> Option<Lent> {
        fn lendable<T: Element>(arg: &Bound<'_, PyAny>) -> Option<PyBuffer<T>> {
            let b = PyBuffer::<T>::get(arg).ok()?;
            let aligned = (b.buf_ptr() as usize).is_multiple_of(std::mem::align_of::<T>());
            (b.dimensions() == 1 && !b.readonly() && b.is_c_contiguous() && aligned).then_some(b)
        }
        match ty {
            Ty::ArrayI64 => lendable(arg).map(Lent::I64),
            Ty::ArrayF64 => lendable(arg).map(Lent::F64),
            _ => None,
        }
    }

    /// Its bytes, to tell overlapping buffers apart.
    pub fn range(&self) -> std::ops::Range<usize> {
        let (start, len) = match self {
            Lent::I64(b) => (b.buf_ptr() as usize, b.len_bytes()),
            Lent::F64(b) => (b.buf_ptr() as usize, b.len_bytes()),
        };
        start..start + len
    }

    /// The argument that lends it.
    pub fn arg(&mut self) -> Arg<'_> {
        // SAFETY: the buffer (held by `self`, which the returned borrow keeps) is
        // writable, C-contiguous, one-dimensional and aligned memory of `item_count`
        // elements of the type, exported to us until `self` drops; the caller lends
        // no two overlapping buffers at once. As for NumPy's own functions that
        // release the GIL, another Python thread must not write the array meanwhile.
        unsafe {
            match self {
                Lent::I64(b) => Arg::I64s(std::slice::from_raw_parts_mut(b.buf_ptr().cast(), b.item_count())),
                Lent::F64(b) => Arg::F64s(std::slice::from_raw_parts_mut(b.buf_ptr().cast(), b.item_count())),
            }
        }
    }
}

/// The elements of a one-dimensional buffer of `T` (a NumPy array of that dtype,
/// an `array.array`), copied at once, or else of a sequence, one by one.
fn elements<'py, T: Element + FromPyObjectOwned<'py>>(arg: &Bound<'py, PyAny>) -> PyResult<Vec<T>> {
    match PyBuffer::<T>::get(arg) {
        Ok(buffer) if buffer.dimensions() == 1 => buffer.to_vec(arg.py()),
        Ok(_) => Err(PyTypeError::new_err("not one-dimensional")),
        Err(_) => arg.extract(),
    }
}

/// An Ore value as a Python object.
pub fn from_value(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Unit => py.None(),
        Value::I64(v) => v.into_pyobject(py)?.into_any().unbind(),
        Value::F64(v) => v.into_pyobject(py)?.into_any().unbind(),
        Value::Bool(v) => PyBool::new(py, *v).to_owned().into_any().unbind(),
        Value::Str(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Ptr(p) => p.into_pyobject(py)?.into_any().unbind(),
        Value::ArrayI64(v) => PyList::new(py, v)?.into_any().unbind(),
        Value::ArrayF64(v) => PyList::new(py, v)?.into_any().unbind(),
    })
}

/// Calls Python callable `f` with `args`. Up to three arguments go by
/// vectorcall, without a tuple: a tuple would cost a fifth of a callback.
pub fn call_python<'py>(f: &Bound<'py, PyAny>, args: &[Value]) -> PyResult<Bound<'py, PyAny>> {
    let py = f.py();
    let arg = |i: usize| from_value(py, &args[i]);
    match args.len() {
        0 => f.call0(),
        1 => f.call1((arg(0)?,)),
        2 => f.call1((arg(0)?, arg(1)?)),
        3 => f.call1((arg(0)?, arg(1)?, arg(2)?)),
        n => f.call1(PyTuple::new(py, (0..n).map(arg).collect::<PyResult<Vec<_>>>()?)?),
    }
}

/// The C type a callback's parameter or result is declared with: the names of
/// Ore's `extern fn` types, and `"unit"` (or `None`) for no result.
pub fn c_type(name: Option<&str>) -> PyResult<CType> {
    match name {
        None | Some("unit") => Ok(CType::Unit),
        Some(n) => CType::from_name(n)
            .ok_or_else(|| PyValueError::new_err(format!("unknown type {n:?}: use i64, i32, f64, bool, str, ptr or unit"))),
    }
}

/// A callback's result, as a value of C type `ty` (`i32` is an Ore `i64`).
pub fn callback_result(value: &Bound<'_, PyAny>, ty: CType) -> PyResult<Value> {
    match ty {
        CType::Unit => Ok(Value::Unit),
        other => to_value(value, other.ore_type(), &|| "the callback's result".into()),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

thread_local! {
    /// The exception a Python callback raised, waiting for the `call` on this
    /// thread that its Ore call returns to, which raises it as `__cause__`.
    static CALLBACK_ERROR: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// Keeps `err`, raised by a callback, for the call it ends; returns the message
/// the Ore call ends with.
pub fn keep_callback_error(py: Python<'_>, err: PyErr) -> String {
    let message = match err.value(py).str() {
        Ok(text) => format!("{}: {text}", err.get_type(py).name().map(|n| n.to_string()).unwrap_or_default()),
        Err(_) => "an exception that cannot be displayed".into(),
    };
    CALLBACK_ERROR.with(|c| *c.borrow_mut() = Some(err));
    message
}

/// The Python exception for an Ore error.
pub fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let errors = match py.import("ore._errors") {
        Ok(m) => m,
        Err(e) => return e,
    };
    // `RuntimeError(message, frames, rendered)`, or `Timeout`'s.
    let runtime = |class: &str, error: &RuntimeError, trace: &ore::Trace| -> PyErr {
        let made = (|| -> PyResult<PyErr> {
            let frame = errors.getattr("Frame")?;
            let frames = trace
                .frames
                .iter()
                .map(|f| {
                    let at = f.location.as_ref();
                    frame.call1((&f.function, at.map(|l| &l.file), at.map(|l| l.line), at.map(|l| l.column)))
                })
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyErr::from_value(errors.getattr(class)?.call1((error.to_string(), frames, trace.to_string()))?))
        })();
        made.unwrap_or_else(|e| e)
    };
    match e {
        Error::Compile(c) => {
            let made = (|| -> PyResult<PyErr> {
                let class = errors.getattr("Diagnostic")?;
                let diagnostics = c
                    .diagnostics
                    .iter()
                    .map(|d| class.call1((&d.file, d.line, d.column, &d.message, &d.rendered)))
                    .collect::<PyResult<Vec<_>>>()?;
                Ok(PyErr::from_value(errors.getattr("CompileError")?.call1((c.to_string(), diagnostics))?))
            })();
            made.unwrap_or_else(|e| e)
        }
        Error::Runtime { error, trace } => {
            let class = if error == RuntimeError::Timeout { "Timeout" } else { "RuntimeError" };
            let err = runtime(class, &error, &trace);
            if matches!(error, RuntimeError::HostError { .. }) {
                if let Some(cause) = CALLBACK_ERROR.with(|c| c.borrow_mut().take()) {
                    err.set_cause(py, Some(cause));
                }
            }
            err
        }
        Error::UnknownFunction(_) => pyo3::exceptions::PyKeyError::new_err(e.to_string()),
        Error::Arity { .. } | Error::ArgumentType { .. } | Error::Signature { .. } => PyTypeError::new_err(e.to_string()),
        other => match errors.getattr("Error").and_then(|c| c.call1((other.to_string(),))) {
            Ok(value) => PyErr::from_value(value),
            Err(e) => e,
        },
    }
}
