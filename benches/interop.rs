//! The cost of crossing between Ore and its host: `cargo bench --bench interop`.
//!
//! Prints one line per measurement: the median of several repeats, and the spread.

use ore::{Config, Namespace, Value};
use std::time::Instant;

const REPEATS: usize = 7;

fn median_spread(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    (samples[samples.len() / 2], samples[0], samples[samples.len() - 1])
}

fn report(what: &str, unit: &str, samples: Vec<f64>) {
    let (median, min, max) = median_spread(samples);
    println!("{what:<44} {median:>10.1} {unit}  (min {min:.1}, max {max:.1}, {REPEATS} runs)");
}

/// Nanoseconds per iteration of `function(n)`, an Ore loop of n crossings.
fn per_call_ns(engine: &Namespace, function: &str, n: i64) -> Vec<f64> {
    engine.call(function, &[Value::I64(10)]).expect("warm-up compiles everything");
    (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            engine.call(function, &[Value::I64(n)]).expect("call");
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .collect()
}

/// Host -> Ore calls of `fn add1(x: i64) -> i64`, side by side: by name with
/// `Value`s, through a `Func`, and through a `TypedFunc`.
fn host_to_ore_calls(engine: &Namespace) {
    const N: i64 = 1_000_000;
    let time = |f: &dyn Fn(i64)| -> Vec<f64> {
        f(0);
        (0..REPEATS)
            .map(|_| {
                let start = Instant::now();
                (0..N).for_each(f);
                start.elapsed().as_nanos() as f64 / N as f64
            })
            .collect()
    };
    engine.add_module("add1", "fn add1(x: i64) -> i64 { x + 1 }").expect("module");
    let func = engine.func("add1").expect("func");
    let typed = func.typed::<(i64,), i64>().expect("typed");
    report(
        "host -> Ore, call(\"add1\", &[Value])",
        "ns",
        time(&|i| assert_eq!(engine.call("add1", &[Value::I64(i)]).ok(), Some(Value::I64(i + 1)))),
    );
    report("host -> Ore, Func::call(&[Value])", "ns", time(&|i| assert_eq!(func.call(&[Value::I64(i)]).ok(), Some(Value::I64(i + 1)))));
    report("host -> Ore, TypedFunc::call((i64,))", "ns", time(&|i| assert_eq!(typed.call((i,)).ok(), Some(i + 1))));
}

extern "C" fn c_callback(x: i64) -> i64 {
    x + 1
}

fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number")
}

fn main() {
    let engine = Namespace::new(Config::default()).expect("engine");

    // Python start-up: the first module that uses Python starts the interpreter.
    let start = Instant::now();
    engine.add_module("py", "fn py_setup() { py_exec(\"def inc(x):\\n    return x + 1\"); }").expect("module");
    let startup_ms = start.elapsed().as_secs_f64() * 1e3;
    println!("{:<44} {startup_ms:>10.1} ms  (once per process)", "Python start-up (add first Python module)");
    engine.call("py_setup", &[]).expect("setup");

    engine.register("c_callback", c_callback as extern "C" fn(i64) -> i64).expect("register");
    engine.register("closure_callback", |x: i64| x + 1).expect("register");
    engine.add_module("loops", LOOPS).expect("module");

    report("py_call_i64 round trip (Ore -> Python)", "ns", per_call_ns(&engine, "py_loop", 200_000));
    report("same call through the C-API from Rust", "ns", python_c_api_ns());
    report("extern \"C\" Rust callback", "ns", per_call_ns(&engine, "c_loop", 10_000_000));
    report("Rust closure callback (register)", "ns", per_call_ns(&engine, "closure_loop", 10_000_000));
    host_to_ore_calls(&engine);
    report("load of a one-function module (from Ore)", "us", per_call_ns(&engine, "load_loop", 500).iter().map(|ns| ns / 1e3).collect());

    // Load, compile, call, unload: RSS growth per cycle once warm.
    engine.add_module("app", "fn work(x: i64) -> i64;\nfn run(x: i64) -> i64 { work(x) + 1 }").expect("module");
    let cycle = |i: i64| {
        let m = engine.add_module("work", &format!("fn work(x: i64) -> i64 {{ x * {i} }}")).expect("module");
        engine.call("run", &[Value::I64(3)]).expect("call");
        engine.remove_module(m.id).expect("unload");
    };
    (0..1000).for_each(cycle);
    let before = rss_kib();
    let start = Instant::now();
    (0..10_000).for_each(cycle);
    let per_cycle_us = start.elapsed().as_secs_f64() * 1e6 / 10_000.0;
    println!("{:<44} {per_cycle_us:>10.1} us", "load + compile + call + unload cycle");
    println!("{:<44} {:>10.0} KiB over 10,000 cycles", "RSS growth, load/unload", rss_kib() - before);
}

const LOOPS: &str = r#"
extern fn c_callback(x: i64) -> i64;
extern fn closure_callback(x: i64) -> i64;
fn py_loop(n: i64) -> i64 { var i = 0; var s = 0; while i < n { s = s + py_call_i64("inc", i); i = i + 1; } s }
fn c_loop(n: i64) -> i64 { var i = 0; var s = 0; while i < n { s = s + c_callback(i); i = i + 1; } s }
fn closure_loop(n: i64) -> i64 { var i = 0; var s = 0; while i < n { s = s + closure_callback(i); i = i + 1; } s }
fn load_loop(n: i64) -> i64 { var i = 0; while i < n { load("fn tiny(x: i64) -> i64 { x + 1 }"); i = i + 1; } n }
"#;

/// The reference for `py_call_i64`: the same Python call made from Rust through the
/// C-API (GIL state, building the argument, the call, converting the result).
fn python_c_api_ns() -> Vec<f64> {
    use pyo3::ffi;
    let n = 200_000;
    (0..REPEATS)
        .map(|_| unsafe {
            let gil = ffi::PyGILState_Ensure();
            let main = ffi::PyImport_AddModule(c"__main__".as_ptr());
            let inc = ffi::PyObject_GetAttrString(main, c"inc".as_ptr());
            let start = Instant::now();
            let mut sum = 0i64;
            for i in 0..n {
                let state = ffi::PyGILState_Ensure();
                let arg = ffi::PyLong_FromLongLong(i);
                let result = ffi::PyObject_CallOneArg(inc, arg);
                sum += ffi::PyLong_AsLongLong(result);
                ffi::Py_DecRef(result);
                ffi::Py_DecRef(arg);
                ffi::PyGILState_Release(state);
            }
            let ns = start.elapsed().as_nanos() as f64 / n as f64;
            assert!(sum > 0);
            ffi::Py_DecRef(inc);
            ffi::PyGILState_Release(gil);
            ns
        })
        .collect()
}
