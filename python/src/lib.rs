//! `ore._ore`: the `Jit`, `Module` and `Function` classes of the `ore` package.
//!
//! A `Jit` is one namespace of Ore's process-wide engine. The GIL is released
//! while Ore code runs and while it compiles, and taken again for Python callbacks
//! (and by the `py_*` built-ins, which use this interpreter's `__main__`).

mod convert;
mod interrupt;

use convert::{from_value, to_py_err, to_value, Lent};
use ore::{Arg, CallOptions, Caller, Config, ExternSig, FnSig, FunctionState, ModuleId, Namespace, OptLevel, Ty, Value};
use parking_lot::Mutex;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::time::Duration;

/// A JIT: modules of Ore source or LLVM IR, compiled one function at a time at
/// its first call, and Python functions that Ore code may call.
#[pyclass(module = "ore", frozen)]
struct Jit {
    ns: Namespace,
    /// Release the GIL while Ore code runs (see `Jit::new`).
    release_gil: bool,
    /// Named modules, for replacing and removing them.
    modules: Mutex<HashMap<String, Loaded>>,
}

#[derive(Clone, Copy)]
enum Loaded {
    Ore(ModuleId),
    Ir(ModuleId),
}

impl Loaded {
    fn id(self) -> ModuleId {
        match self {
            Loaded::Ore(id) | Loaded::Ir(id) => id,
        }
    }
}

/// A module that was added: its name and the functions it defines or declares.
#[pyclass(module = "ore", frozen, get_all)]
struct Module {
    /// The name it was added under.
    name: String,
    /// `(name, signature)` of each function; IR functions have no Ore signature.
    functions: Vec<(String, Option<String>)>,
}

#[pymethods]
impl Module {
    fn __repr__(&self) -> String {
        format!("<ore.Module {:?}: {} functions>", self.name, self.functions.len())
    }
}

/// A function of a `Jit`, found once: calling it skips the lookup by name and
/// sees every redefinition.
#[pyclass(module = "ore", frozen)]
struct Function {
    jit: Py<Jit>,
    func: ore::Func,
}

#[pymethods]
impl Jit {
    /// A new Jit. `opt_level` 0-3; `interruptible` compiles deadline checks into
    /// loops and calls (needed for `timeout=`); `eager` compiles each module when
    /// added; `python` lets Ore code use Python; `max_functions` and
    /// `max_source_bytes` bound what modules may add. With `release_gil=False`,
    /// calls keep the GIL while Ore code runs (and while a first call compiles):
    /// short calls and callbacks get cheaper, and other Python threads wait.
    /// `keep_code` keeps each function's optimised IR and assembly for `code`.
    /// `cache_dir` keeps compiled code in that directory, and links it from there
    /// when this or a later process compiles the same code again. `tier="auto"`
    /// compiles functions without loops at -O0 first and again at `opt_level`,
    /// in the background, after `hot_calls` calls (`compile_threads=0`: on the
    /// calling thread, at once).
    #[new]
    #[pyo3(signature = (*, opt_level = 2, interruptible = false, eager = false, python = true, max_functions = None, max_source_bytes = None, release_gil = true, keep_code = false, cache_dir = None, tier = "fixed", hot_calls = ore::Tiering::DEFAULT_HOT_CALLS, compile_threads = 1))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        opt_level: u8,
        interruptible: bool,
        eager: bool,
        python: bool,
        max_functions: Option<usize>,
        max_source_bytes: Option<usize>,
        release_gil: bool,
        keep_code: bool,
        cache_dir: Option<std::path::PathBuf>,
        tier: &str,
        hot_calls: u32,
        compile_threads: usize,
    ) -> PyResult<Jit> {
        let opt_level = OptLevel::new(opt_level).ok_or_else(|| PyValueError::new_err(format!("opt_level must be 0-3, not {opt_level}")))?;
        let tiering = match tier {
            "fixed" => None,
            "auto" if hot_calls >= 1 => Some(ore::Tiering { hot_calls, threads: compile_threads }),
            "auto" => return Err(PyValueError::new_err("hot_calls must be at least 1")),
            other => return Err(PyValueError::new_err(format!("tier must be \"auto\" or \"fixed\", not {other:?}"))),
        };
        let mut config = Config { opt_level, interruptible, eager, keep_code, cache_dir, tiering, ..Config::default() };
        config.policy.python = python;
        if let Some(n) = max_functions {
            config.limits.max_functions = n;
        }
        if let Some(n) = max_source_bytes {
            config.limits.max_source_bytes = n;
        }
        let ns = Python::attach(|py| Namespace::new(config).map_err(|e| to_py_err(py, e)))?;
        Ok(Jit { ns, release_gil, modules: Mutex::default() })
    }

    /// Adds (or, under a name already used, replaces) a module of Ore source. Its
    /// functions are compiled at their first call; a function defined again is
    /// replaced for every caller at once.
    fn add_source(&self, py: Python<'_>, name: &str, source: &str) -> PyResult<Module> {
        let ns = self.ns.clone();
        let (owned_name, owned_source) = (name.to_string(), source.to_string());
        let info = py.detach(move || ns.add_module(&owned_name, &owned_source)).map_err(|e| to_py_err(py, e))?;
        let old = self.modules.lock().insert(name.to_string(), Loaded::Ore(info.id));
        if let Some(old) = old {
            self.ns.remove_module(old.id()).map_err(|e| to_py_err(py, e))?;
        }
        let functions = info.functions.into_iter().map(|(n, s)| (n, Some(s.to_string()))).collect();
        Ok(Module { name: name.to_string(), functions })
    }

    /// Adds (or, under a name already used, replaces) an LLVM IR module, as text
    /// (`str`) or bitcode (`bytes`). Its functions are compiled lazily, each at its
    /// first call, and Ore code calls them through `extern fn`; a replacement is
    /// seen by every caller at once.
    fn add_ir(&self, py: Python<'_>, name: &str, ir: &Bound<'_, PyAny>) -> PyResult<Module> {
        let bytes: Vec<u8> = if let Ok(text) = ir.cast::<PyString>() {
            text.to_str()?.as_bytes().to_vec()
        } else if let Ok(bytes) = ir.cast::<PyBytes>() {
            bytes.as_bytes().to_vec()
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err("IR must be str (text) or bytes (bitcode)"));
        };
        let existing = self.modules.lock().get(name).copied();
        let ns = self.ns.clone();
        let owned_name = name.to_string();
        let info = py
            .detach(move || match existing {
                Some(Loaded::Ir(old)) => ns.replace_ir(old, &owned_name, &bytes),
                _ => ns.add_ir(&owned_name, &bytes),
            })
            .map_err(|e| to_py_err(py, e))?;
        if let Some(Loaded::Ore(old)) = self.modules.lock().insert(name.to_string(), Loaded::Ir(info.id)) {
            self.ns.remove_module(old).map_err(|e| to_py_err(py, e))?;
        }
        Ok(Module { name: name.to_string(), functions: info.functions.into_iter().map(|f| (f, None)).collect() })
    }

    /// Unloads a module (Ore or IR): the functions it defines become undefined
    /// (calling one is `ore.RuntimeError: undefined function NAME`), and its code
    /// is freed once no running call can be executing it.
    fn remove(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let mut modules = self.modules.lock();
        let loaded = modules.get(name).copied().ok_or_else(|| PyKeyError::new_err(format!("no module named {name:?}")))?;
        self.ns.remove_module(loaded.id()).map_err(|e| to_py_err(py, e))?;
        modules.remove(name);
        Ok(())
    }

    /// Calls Ore function `name` with `args`; `timeout` (seconds) needs a Jit
    /// created with `interruptible=True`, and ends the call with `ore.Timeout`.
    #[pyo3(signature = (name, *args, timeout = None))]
    fn call(&self, py: Python<'_>, name: &str, args: &Bound<'_, PyTuple>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let func = self.ns.func(name).map_err(|e| to_py_err(py, e))?;
        call_func(py, &func, self.mode(), args, timeout)
    }

    /// Runs `source`, statements and a final expression, with the Jit's functions
    /// in scope (what a REPL's user types), and returns the expression's value
    /// (`None` if there is none). Diagnostics and traces name the input `name`,
    /// with `source`'s own lines.
    #[pyo3(signature = (source, name = "<input>"))]
    fn evaluate(&self, py: Python<'_>, source: &str, name: &str) -> PyResult<Py<PyAny>> {
        let evaluation = if self.release_gil {
            let ns = self.ns.clone();
            let (owned_name, owned_source) = (name.to_string(), source.to_string());
            py.detach(move || ns.evaluate(&owned_name, &owned_source))
        } else {
            self.ns.evaluate(name, source)
        };
        finish_call(py, evaluation.map(|e| e.value))
    }

    /// With `keep_code=True`: `{"ir": ..., "asm": ...}`, the optimised LLVM IR and
    /// the assembly of function `name`'s latest compile; `None` before its first.
    fn code<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(code) = self.ns.code(name) else { return Ok(None) };
        let dict = PyDict::new(py);
        dict.set_item("ir", &code.ir)?;
        dict.set_item("asm", &code.asm)?;
        Ok(Some(dict))
    }

    /// A handle to function `name`, callable like a Python function. For a
    /// function of an LLVM IR module, give its C signature as `params` and `ret`
    /// (the names `register` takes): IR carries none Ore could check, so it is
    /// trusted to be right, as IR itself is.
    #[pyo3(signature = (name, params = None, ret = None))]
    fn function(slf: &Bound<'_, Jit>, name: &str, params: Option<Vec<String>>, ret: Option<&str>) -> PyResult<Function> {
        let py = slf.py();
        let ns = &slf.get().ns;
        let func = match params {
            None => ns.func(name),
            Some(params) => {
                let params = params.iter().map(|p| convert::c_type(Some(p))).collect::<PyResult<Vec<_>>>()?;
                ns.ir_func(name, &ExternSig { params, ret: convert::c_type(ret)? })
            }
        };
        Ok(Function { jit: slf.clone().unbind(), func: func.map_err(|e| to_py_err(py, e))? })
    }

    /// Registers Python callable `fn` under `name`, for Ore `extern fn name(...)`
    /// (and IR `declare`) in modules added afterwards. `params` and `ret` name
    /// the C types (`"i64"`, `"i32"`, `"f64"`, `"bool"`, `"str"`, `"ptr"`; `ret`
    /// may be `"unit"` or `None`, and not `"str"`). An exception it raises ends the
    /// Ore call; the caller gets `ore.RuntimeError` with it as `__cause__`. The
    /// Jit keeps `fn` alive.
    #[pyo3(signature = (name, r#fn, params, ret = None))]
    fn register(&self, name: &str, r#fn: Py<PyAny>, params: Vec<String>, ret: Option<&str>) -> PyResult<()> {
        let params = params.iter().map(|p| convert::c_type(Some(p))).collect::<PyResult<Vec<_>>>()?;
        let ret = convert::c_type(ret)?;
        let sig = ExternSig { params, ret };
        let callback = move |_caller: Caller, args: &[Value]| {
            Python::attach(|py| {
                let result = convert::call_python(r#fn.bind(py), args).and_then(|value| convert::callback_result(&value, ret));
                result.map_err(|e| convert::keep_callback_error(py, e))
            })
        };
        Python::attach(|py| self.ns.register_dynamic(name, sig, callback).map_err(|e| to_py_err(py, e)))
    }

    /// Counters since the Jit was created (times in microseconds).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.ns.stats();
        let dict = PyDict::new(py);
        for (key, value) in [
            ("functions", s.functions),
            ("compiled", s.compiled),
            ("parse_us", s.parse_us),
            ("check_us", s.check_us),
            ("irgen_us", s.irgen_us),
            ("compile_us", s.compile_us),
            ("code_bytes", s.code_bytes),
            ("cache_hits", s.cache_hits),
            ("cache_misses", s.cache_misses),
            ("tier_0_compiled", s.tier_0_compiled),
            ("tier_ups", s.tier_ups),
            ("tier_up_us", s.tier_up_us),
        ] {
            dict.set_item(key, value)?;
        }
        Ok(dict)
    }

    /// Waits until the background compiles of hot functions (`tier="auto"`)
    /// queued so far are done, at most `timeout` seconds; whether they are.
    #[pyo3(signature = (timeout = 60.0))]
    fn wait_for_tier_ups(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = std::time::Duration::try_from_secs_f64(timeout).map_err(|e| PyValueError::new_err(format!("timeout: {e}")))?;
        let ns = self.ns.clone();
        Ok(py.detach(move || ns.wait_for_tier_ups(timeout)))
    }

    /// Every Ore function: `name`, `signature`, `state` (`"lazy"`, `"compiled"` or
    /// `"undefined"`), `calls` from Python, and `tier` once compiled
    /// (`"direct"`, `"baseline"`: tier 0, or `"optimized"`: recompiled hot).
    fn functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for f in self.ns.functions() {
            let dict = PyDict::new(py);
            dict.set_item("name", &f.name)?;
            dict.set_item("signature", f.sig.to_string())?;
            let state = match f.state {
                FunctionState::Undefined => "undefined",
                FunctionState::Lazy => "lazy",
                _ => "compiled",
            };
            dict.set_item("state", state)?;
            dict.set_item("calls", f.calls)?;
            let tier = f.tier.map(|t| match t {
                ore::Tier::Direct => "direct",
                ore::Tier::Baseline => "baseline",
                ore::Tier::Optimized => "optimized",
            });
            dict.set_item("tier", tier)?;
            list.append(dict)?;
        }
        Ok(list)
    }
}

impl Jit {
    fn mode(&self) -> CallMode {
        CallMode { interruptible: self.ns.config().interruptible, release_gil: self.release_gil }
    }
}

/// How a Jit's calls run.
#[derive(Clone, Copy)]
struct CallMode {
    interruptible: bool,
    release_gil: bool,
}

#[pymethods]
impl Function {
    #[pyo3(signature = (*args, timeout = None))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        call_func(py, &self.func, self.jit.get().mode(), args, timeout)
    }

    /// The function's name.
    #[getter]
    fn name(&self) -> &str {
        self.func.name()
    }

    /// Its signature, as Ore writes it: `fn(i64, i64) -> i64`.
    #[getter]
    fn signature(&self) -> String {
        self.func.signature().to_string()
    }

    /// The Jit it belongs to.
    #[getter]
    fn jit(&self, py: Python<'_>) -> Py<Jit> {
        self.jit.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!("<ore.Function {}: {}>", self.func.name(), self.func.signature())
    }
}

/// Converts `args` by `func`'s signature and calls it with the GIL released. In
/// an interruptible Jit, Ctrl-C ends the call with `KeyboardInterrupt`.
fn call_func(py: Python<'_>, func: &ore::Func, mode: CallMode, args: &Bound<'_, PyTuple>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
    let sig: &FnSig = func.signature();
    if args.len() != sig.params.len() {
        let name = func.name();
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "`{name}` takes {} argument(s), but {} were given",
            sig.params.len(),
            args.len()
        )));
    }
    if sig.params.iter().any(|t| matches!(t, Ty::ArrayI64 | Ty::ArrayF64)) {
        return call_lending(py, func, mode, args, timeout);
    }
    // On the stack for short calls: an allocation is a tenth of their cost.
    // (A loop, not `collect`: collecting `Result`s costs more than the call.)
    let mut values = SmallVec::<[Value; 6]>::new();
    for (i, (arg, ty)) in args.iter().zip(&sig.params).enumerate() {
        values.push(to_value(&arg, *ty, &|| argument_name(func, i))?);
    }
    let result = if mode.interruptible {
        return call_interruptible(py, func, mode, &values, timeout);
    } else if timeout.is_some() {
        Err(ore::Error::NotInterruptible)
    } else if mode.release_gil {
        py.detach(|| func.call(&values))
    } else {
        func.call(&values)
    };
    from_value(py, &result.map_err(|e| to_py_err(py, e))?)
}

fn argument_name(func: &ore::Func, i: usize) -> String {
    format!("argument {i} of `{}`", func.name())
}

/// A call with array parameters: a NumPy array (or another writable buffer of the
/// element type) is lent to the call, which works on it in place; anything else
/// is copied in. A buffer that overlaps one lent already is copied.
fn call_lending(py: Python<'_>, func: &ore::Func, mode: CallMode, args: &Bound<'_, PyTuple>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
    let mut lent: SmallVec<[Lent; 4]> = SmallVec::new();
    let mut values: SmallVec<[Option<Value>; 6]> = SmallVec::new();
    for (i, (arg, ty)) in args.iter().zip(&func.signature().params).enumerate() {
        match Lent::of(&arg, *ty) {
            Some(buffer) if !lent.iter().any(|l| overlap(&l.range(), &buffer.range())) => {
                lent.push(buffer);
                values.push(None);
            }
            _ => values.push(Some(to_value(&arg, *ty, &|| argument_name(func, i))?)),
        }
    }
    let mut lent_args = lent.iter_mut().map(Lent::arg);
    let mut call_args: SmallVec<[Arg<'_>; 6]> =
        values.into_iter().map(|v| v.map(Arg::Value).unwrap_or_else(|| lent_args.next().expect("one per lent buffer"))).collect();
    let options = call_options(mode, timeout)?;
    let guard = mode.interruptible.then(interrupt::enter);
    let result = if mode.release_gil {
        py.detach(|| func.call_args_with(&mut call_args, &options).result)
    } else {
        func.call_args_with(&mut call_args, &options).result
    };
    drop(guard);
    finish_call(py, result)
}

fn overlap(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// A call in an interruptible Jit: with a deadline, and ended by Ctrl-C.
fn call_interruptible(py: Python<'_>, func: &ore::Func, mode: CallMode, values: &[Value], timeout: Option<f64>) -> PyResult<Py<PyAny>> {
    let options = call_options(mode, timeout)?;
    let guard = interrupt::enter();
    let result =
        if mode.release_gil { py.detach(|| func.call_with(values, &options).result) } else { func.call_with(values, &options).result };
    drop(guard);
    finish_call(py, result)
}

/// The options of a call with `timeout`: in an interruptible Jit, it ends at the
/// deadline or at Ctrl-C.
fn call_options(mode: CallMode, timeout: Option<f64>) -> PyResult<CallOptions> {
    let timeout = match timeout {
        Some(t) if !(t.is_finite() && t >= 0.0) => return Err(PyValueError::new_err("timeout must be a non-negative number of seconds")),
        t => t.map(Duration::from_secs_f64),
    };
    let interrupt = mode.interruptible.then(|| interrupt::INTERRUPT.clone());
    Ok(CallOptions { timeout, interrupt, ..CallOptions::default() })
}

/// The call's result as a Python object, or its error as an exception; Ctrl-C
/// raises Python's `KeyboardInterrupt`.
fn finish_call(py: Python<'_>, result: Result<Value, ore::Error>) -> PyResult<Py<PyAny>> {
    if matches!(result, Err(ore::Error::Runtime { error: ore::RuntimeError::Interrupted, .. })) {
        interrupt::INTERRUPT.reset();
        // Python's handler saw the signal too: this raises its `KeyboardInterrupt`.
        py.check_signals()?;
    }
    from_value(py, &result.map_err(|e| to_py_err(py, e))?)
}

/// The native part of the `ore` package.
/// Registered with Python's `atexit`: the interpreter's exit is followed by the
/// process's, which destroys LLVM's statics, so no tier-up may still compile.
#[pyfunction]
fn _stop_background_compiles(py: Python<'_>) {
    py.detach(ore::stop_background_compiles);
}

#[pymodule]
fn _ore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Jit>()?;
    m.add_class::<Module>()?;
    m.add_class::<Function>()?;
    let stop = wrap_pyfunction!(_stop_background_compiles, m)?;
    m.py().import("atexit")?.call_method1("register", (stop,))?;
    Ok(())
}
