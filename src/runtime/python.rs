//! Python, embedded through pyo3: started on demand, and the `py_*` built-ins.
//!
//! Python is initialised only when a module needs it (a `py_*` built-in, or an
//! `extern fn` naming a Python C-API symbol), never twice (a host that already runs
//! Python keeps its interpreter), and with the GIL released afterwards so that JIT'd
//! code may take it with `PyGILState_Ensure`. The built-ins take the GIL themselves.
//!
//! Output order: when Ore starts the interpreter, `sys.stdout` is replaced by a
//! writer into C's `stdout` stream, the one Ore's `print` and C's stdio use, so all
//! three interleave in program order, even for `PyRun_SimpleString` called directly.
//! A host's own interpreter keeps its `sys.stdout`; the built-ins flush around it.

use super::python_values::{Arg, Conversion};
use super::{output, RuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule as PyModuleType, PyString, PyTuple};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Once;

/// Whether `sys.stdout` writes into C's stdout (Ore started the interpreter).
static REDIRECTED: AtomicBool = AtomicBool::new(false);

/// Starts Python unless it is running; cheap after the first call.
pub fn ensure_initialized() {
    static START: Once = Once::new();
    START.call_once(|| {
        // SAFETY: a plain query, valid before and after initialisation.
        let ours = unsafe { pyo3::ffi::Py_IsInitialized() } == 0;
        let _span = tracing::debug_span!("python_start", ours).entered();
        Python::initialize();
        if ours {
            match Python::attach(redirect_stdout) {
                Ok(()) => REDIRECTED.store(true, Relaxed),
                Err(e) => tracing::error!("redirecting Python's stdout: {e}"),
            }
        }
    });
}

/// At the end of a program whose interpreter Ore started: waits for Python's
/// non-daemon threads, as CPython itself does at exit (`threading._shutdown`), so
/// their work and output are not lost. Does nothing when the host owns Python.
/// Call it on the thread that started the interpreter: `threading` takes that one
/// for the main thread, and `_shutdown` waits for every other.
pub fn finish() {
    if !REDIRECTED.load(Relaxed) {
        return;
    }
    Python::attach(|py| {
        if let Err(e) = py.import("threading").and_then(|t| t.call_method0("_shutdown")) {
            tracing::error!("waiting for Python threads: {e}");
        }
    });
    output::flush();
}

#[pyfunction]
fn write_stdout(text: &str) -> usize {
    output::write(text.as_bytes());
    text.chars().count()
}

#[pyfunction]
fn flush_stdout() {
    output::flush();
}

const STDOUT_SHIM: &CStr = c"
import sys

class OreStdout:
    encoding = 'utf-8'
    errors = 'strict'
    def __init__(self, write, flush):
        self._write = write
        self._flush = flush
    def write(self, text):
        return self._write(text)
    def flush(self):
        self._flush()
    def isatty(self):
        return False
    def writable(self):
        return True

def install(write, flush):
    sys.stdout = OreStdout(write, flush)
";

fn redirect_stdout(py: Python<'_>) -> PyResult<()> {
    let shim = PyModule::from_code(py, STDOUT_SHIM, c"ore_stdout.py", c"ore_stdout")?;
    let write = wrap_pyfunction!(write_stdout, py)?;
    let flush = wrap_pyfunction!(flush_stdout, py)?;
    shim.getattr("install")?.call1((write, flush))?;
    Ok(())
}

/// `python: TYPE: MESSAGE`, LANGUAGE.md's form.
fn to_runtime_error(py: Python<'_>, err: PyErr) -> RuntimeError {
    let ty = err.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    let message = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if message.is_empty() {
        RuntimeError::Python(ty)
    } else {
        RuntimeError::Python(format!("{ty}: {message}"))
    }
}

/// Runs `f` holding the GIL, keeping output in order when the host owns stdout.
fn with_python<T>(f: impl for<'py> FnOnce(Python<'py>) -> PyResult<T>) -> Result<T, RuntimeError> {
    ensure_initialized();
    let redirected = REDIRECTED.load(Relaxed);
    if !redirected {
        output::flush();
    }
    Python::attach(|py| {
        let result = f(py).map_err(|e| to_runtime_error(py, e));
        if !redirected {
            let _ = py.import("sys").and_then(|sys| sys.getattr("stdout")?.call_method0("flush"));
        }
        result
    })
}

/// A module object that never changes once imported (`__main__`, `builtins`),
/// cached: importing through the import machinery costs a microsecond a call.
fn cached_module<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyModuleType>>, name: &str) -> PyResult<Bound<'py, PyModuleType>> {
    Ok(cell.get_or_try_init(py, || py.import(name).map(Bound::unbind))?.bind(py).clone())
}

fn main_module(py: Python<'_>) -> PyResult<Bound<'_, PyModuleType>> {
    static MAIN: PyOnceLock<Py<PyModuleType>> = PyOnceLock::new();
    cached_module(py, &MAIN, "__main__")
}

fn builtins_module(py: Python<'_>) -> PyResult<Bound<'_, PyModuleType>> {
    static BUILTINS: PyOnceLock<Py<PyModuleType>> = PyOnceLock::new();
    cached_module(py, &BUILTINS, "builtins")
}

fn main_dict(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    Ok(main_module(py)?.dict())
}

fn c_text(text: &str) -> PyResult<CString> {
    CString::new(text).map_err(|_| pyo3::exceptions::PyValueError::new_err("source contains a NUL byte"))
}

impl Conversion {
    /// The result as the 64 bits Ore code receives.
    fn convert(self, value: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(match self {
            Conversion::Drop => 0,
            Conversion::I64 => value.extract::<i64>()?,
            Conversion::F64 => value.extract::<f64>()?.to_bits() as i64,
            Conversion::Bool => value.is_truthy()? as i64,
            Conversion::Str => {
                let text = value.cast::<PyString>()?.to_str()?;
                if text.contains('\0') {
                    return Err(pyo3::exceptions::PyValueError::new_err("the result contains a NUL character"));
                }
                super::arena::alloc_str(text.as_bytes()).map_err(|e| pyo3::exceptions::PyMemoryError::new_err(e.to_string()))? as i64
            }
        })
    }
}

pub fn exec(code: &str) -> Result<(), RuntimeError> {
    with_python(|py| py.run(&c_text(code)?, Some(&main_dict(py)?), None))
}

pub fn eval(expr: &str, conversion: Conversion) -> Result<i64, RuntimeError> {
    with_python(|py| conversion.convert(&py.eval(&c_text(expr)?, Some(&main_dict(py)?), None)?))
}

/// Finds a callable by a dotted path: its first name is looked up in `__main__`,
/// then among the builtins, then imported as a module (`"math.gcd"`); each further
/// name is an attribute, or a submodule to import (`"os.path.join"`).
fn resolve<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyAny>> {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    // Names are resolved at every call: `py_exec` may rebind them at any time.
    let name = interned(py, first);
    let mut object = match main_module(py)?.getattr(&name) {
        Ok(o) => o,
        Err(_) => match builtins_module(py)?.getattr(&name) {
            Ok(o) => o,
            Err(_) => py.import(first)?.into_any(),
        },
    };
    let mut prefix = first.len();
    for part in parts {
        prefix += 1 + part.len();
        object = match object.getattr(interned(py, part)) {
            Ok(o) => o,
            Err(e) => py.import(&path[..prefix]).map_err(|_| e)?.into_any(),
        };
    }
    Ok(object)
}

/// `name` as a Python string made once per process: creating one and hashing it
/// for the lookup was a third of a `py_call`. Names come from call sites; past
/// `MAX_INTERNED` of them (code loaded without end), new names are made per call.
fn interned<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyString> {
    const MAX_INTERNED: usize = 4096;
    static NAMES: PyOnceLock<parking_lot::Mutex<HashMap<String, Py<PyString>>>> = PyOnceLock::new();
    let mut names = NAMES.get_or_init(py, Default::default).lock();
    if let Some(s) = names.get(name) {
        return s.bind(py).clone();
    }
    let s = PyString::intern(py, name);
    if names.len() < MAX_INTERNED {
        names.insert(name.to_string(), s.clone().unbind());
    }
    s
}

/// Calls a callable named by a dotted path (see `resolve`).
pub fn call(path: &str, args: &[Arg<'_>], conversion: Conversion) -> Result<i64, RuntimeError> {
    with_python(|py| {
        let callable = resolve(py, path)?;
        // These conversions cannot fail (their error type is `Infallible`).
        let object = |a: &Arg<'_>| -> Bound<'_, PyAny> {
            match a {
                Arg::I64(v) => v.into_pyobject(py).expect("infallible").into_any(),
                Arg::F64(v) => v.into_pyobject(py).expect("infallible").into_any(),
                Arg::Bool(v) => v.into_pyobject(py).expect("infallible").to_owned().into_any(),
                Arg::Str(s) => s.to_string_lossy().into_pyobject(py).expect("infallible").into_any(),
            }
        };
        // Rust tuples go through vectorcall, with no argument tuple to build.
        let result = match args {
            [] => callable.call0()?,
            [a] => callable.call1((object(a),))?,
            [a, b] => callable.call1((object(a), object(b)))?,
            [a, b, c] => callable.call1((object(a), object(b), object(c)))?,
            _ => callable.call1(PyTuple::new(py, args.iter().map(object))?)?,
        };
        conversion.convert(&result)
    })
}
