//! Calls with options (deadlines, output capture, memory limits), engine policies and
//! limits, and functions compiling on several threads at once.

use ore::{CallOptions, Config, Error, FunctionState, Limit, Limits, Namespace, OptLevel, Policy, RuntimeError, Value};
use std::time::{Duration, Instant};

fn interruptible() -> Namespace {
    Namespace::new(Config { interruptible: true, ..Config::default() }).expect("engine")
}

fn timeout(ms: u64) -> CallOptions {
    CallOptions { timeout: Some(Duration::from_millis(ms)), ..CallOptions::default() }
}

const RUNAWAY: &str = "
fn spin() { while true {} }
fn spin_continue() -> i64 { var i = 0; while true { i = i + 1; continue; } i }
fn boom(n: i64) -> i64 { if n == 0 { 0 } else { boom(n - 1) + boom(n - 1) } }
fn quick(x: i64) -> i64 { x + 1 }
fn slow_leaf(x: i64) -> i64 { var k = 0; while k < x { k = k + 1; } k }
fn spin_calls() -> i64 { var i = 0; while true { i = quick(i) + slow_leaf(1000000000000); } i }
fn stuck(n: i64) -> i64 { var s = 0; var i = 0; while i < n { s = s + 1; if s > 0 { continue; } i = i + 1; } s }
";

#[test]
fn loops_and_recursion_are_interrupted_at_their_deadline() {
    let e = interruptible();
    e.add_module("runaway", RUNAWAY).unwrap();
    // `spin_calls` calls copies of its callees (without checks of their own: the
    // loop's header checks, and `slow_leaf`'s loop checks inside the copy, once
    // per chunk of iterations). `stuck`'s counted loop never steps: its
    // `continue` goes where the deadline is checked, not on to the chunk's next
    // iteration.
    let runaways = [
        ("spin", vec![]),
        ("spin_continue", vec![]),
        ("boom", vec![Value::I64(90)]),
        ("spin_calls", vec![]),
        ("stuck", vec![Value::I64(10)]),
    ];
    for (function, args) in runaways {
        let started = Instant::now();
        let report = e.call_with(function, &args, &timeout(100));
        assert!(matches!(report.result, Err(Error::Runtime { error: RuntimeError::Timeout, .. })), "{function}: {:?}", report.result);
        assert!(started.elapsed() >= Duration::from_millis(100), "{function} ended early");
    }
    // The engine, and the functions that timed out, stay usable.
    assert_eq!(e.call("quick", &[Value::I64(1)]).unwrap(), Value::I64(2));
    assert!(matches!(e.call_with("spin", &[], &timeout(10)).result, Err(Error::Runtime { error: RuntimeError::Timeout, .. })));
}

#[test]
fn a_timeout_needs_an_interruptible_engine() {
    let e = Namespace::new(Config::default()).unwrap();
    e.add_module("m", "fn f() -> i64 { 1 }").unwrap();
    let report = e.call_with("f", &[], &timeout(10));
    assert!(matches!(report.result, Err(Error::NotInterruptible)), "{:?}", report.result);
}

#[test]
fn nested_calls_inherit_the_callers_deadline() {
    let e = interruptible();
    e.add_module("runaway", RUNAWAY).unwrap();
    let inner = e.clone();
    // A host callback that calls back into the engine, with no deadline of its own.
    e.register("call_spin", move || -> i64 {
        let result = inner.call("spin", &[]);
        i64::from(matches!(result, Err(Error::Runtime { error: RuntimeError::Timeout, .. })))
    })
    .unwrap();
    e.add_module("outer", "extern fn call_spin() -> i64;\nfn outer() -> i64 { call_spin() }").unwrap();
    let started = Instant::now();
    let report = e.call_with("outer", &[], &timeout(50));
    // The inner call was cut off at the outer call's deadline, and the callback saw it.
    assert_eq!(report.result.unwrap(), Value::I64(1));
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[test]
fn output_is_captured_per_call_and_truncated_at_its_limit() {
    let e = Namespace::new(Config::default()).unwrap();
    e.add_module("p", "fn talk(n: i64) -> i64 { var i = 0; while i < n { print(i); i = i + 1; } n }").unwrap();
    let options = CallOptions { capture_output: Some(6), ..CallOptions::default() };
    let report = e.call_with("talk", &[Value::I64(3)], &options);
    assert_eq!(report.result.unwrap(), Value::I64(3));
    let out = report.output.unwrap();
    assert_eq!((out.stdout.as_slice(), out.truncated), (&b"0\n1\n2\n"[..], false));
    let out = e.call_with("talk", &[Value::I64(5)], &options).output.unwrap();
    assert_eq!((out.stdout.as_slice(), out.truncated), (&b"0\n1\n2\n"[..], true));
    assert_eq!(report.compiled, vec!["talk".to_string()]);
}

#[test]
fn array_memory_is_limited_per_call() {
    let e = Namespace::new(Config::default()).unwrap();
    e.add_module("a", "fn make(n: i64, k: i64) -> i64 { var i = 0; var t = 0; while i < k { t = t + len([1; n]); i = i + 1; } t }")
        .unwrap();
    let options = CallOptions { max_array_bytes: Some(80_000), ..CallOptions::default() };
    // Ten arrays of 998 elements (plus their two-word headers) fit; eleven do not.
    assert_eq!(e.call_with("make", &[Value::I64(998), Value::I64(10)], &options).result.unwrap(), Value::I64(9980));
    let result = e.call_with("make", &[Value::I64(998), Value::I64(11)], &options).result;
    assert!(matches!(result, Err(Error::Runtime { error: RuntimeError::MemoryLimit(998), .. })), "{result:?}");
    // The budget is per call: the next one starts afresh.
    assert!(e.call_with("make", &[Value::I64(998), Value::I64(10)], &options).result.is_ok());
}

#[test]
fn a_function_returning_no_array_gives_its_arrays_back_when_it_returns() {
    let e = Namespace::new(Config::default()).unwrap();
    let src = "fn one(n: i64) -> i64 { len([1; n]) }
fn make(n: i64) -> [i64] { [1; n] }
fn calls(n: i64, k: i64) -> i64 { var i = 0; var t = 0; while i < k { t = t + one(n); i = i + 1; } t }
fn keeps(n: i64, k: i64) -> i64 { var i = 0; var t = 0; while i < k { t = t + len(make(n)); i = i + 1; } t }";
    e.add_module("a", src).unwrap();
    let options = CallOptions { max_array_bytes: Some(80_000), ..CallOptions::default() };
    let args = |k| [Value::I64(998), Value::I64(k)];
    // Each `one` frees its array: a hundred calls hold one array at a time.
    assert_eq!(e.call_with("calls", &args(100), &options).result.unwrap(), Value::I64(99_800));
    // `make` returns its array, so `keeps` holds all of them until it returns.
    assert_eq!(e.call_with("keeps", &args(10), &options).result.unwrap(), Value::I64(9980));
    let result = e.call_with("keeps", &args(11), &options).result;
    assert!(matches!(result, Err(Error::Runtime { error: RuntimeError::MemoryLimit(998), .. })), "{result:?}");
}

#[test]
fn policy_limits_externs_and_python() {
    let policy = Policy { extern_allow_list: Some(ore::allow_list(["labs"]).unwrap()), python: false };
    let e = Namespace::new(Config { policy, ..Config::default() }).unwrap();
    e.add_module("ok", "extern fn labs(x: i64) -> i64;\nfn a(x: i64) -> i64 { labs(x) }").unwrap();
    assert_eq!(e.call("a", &[Value::I64(-3)]).unwrap(), Value::I64(3));
    let err = e.add_module("no", "extern fn getpid() -> i32;").unwrap_err().to_string();
    assert!(err.contains("no:1:11: error: `extern fn getpid` is not allowed here"), "{err}");
    let err = e.add_module("py", "fn p() -> i64 { py_eval_i64(\"1\") }").unwrap_err().to_string();
    assert!(err.contains("`py_eval_i64` is not allowed here: this engine does not allow Python"), "{err}");
    // Functions the host registers are allowed whatever the list says.
    extern "C" fn triple(x: i64) -> i64 {
        3 * x
    }
    e.register("triple", triple as extern "C" fn(i64) -> i64).unwrap();
    e.add_module("host", "extern fn triple(x: i64) -> i64;\nfn t() -> i64 { triple(5) }").unwrap();
    assert_eq!(e.call("t", &[]).unwrap(), Value::I64(15));
}

#[test]
fn limits_refuse_modules_and_change_nothing() {
    let limits = Limits { max_source_bytes: 100, max_nesting: 3, max_functions: 2 };
    let e = Namespace::new(Config { limits, ..Config::default() }).unwrap();
    e.add_module("one", "fn a() -> i64 { 1 }").unwrap();
    let err = e.add_module("big", &format!("fn b() -> i64 {{ {} }}", "1 + ".repeat(30) + "1")).unwrap_err();
    assert!(matches!(&err, Error::Limit { limit: Limit::SourceBytes, message } if message.contains("over the limit of 100")), "{err}");
    let err = e.add_ir("big.ll", &[b' '; 101]).unwrap_err();
    assert!(
        matches!(&err, Error::Limit { limit: Limit::SourceBytes, message } if message == "big.ll: the source is 101 bytes, over the limit of 100"),
        "{err}"
    );
    let err = e.add_module("deep", "fn b() -> i64 { (((1))) }").unwrap_err().to_string();
    assert!(err.contains("deep:1:15: error: `b` nests 5 levels deep, over the limit of 3"), "{err}");
    let err = e.add_module("many", "fn b() {}\nfn c() {}").unwrap_err();
    assert!(matches!(&err, Error::Limit { limit: Limit::Functions, message } if message.contains("would hold 3 functions")), "{err}");
    assert!(e.function("b").is_none());
    assert_eq!(e.call("a", &[]).unwrap(), Value::I64(1));
}

#[test]
fn functions_compile_on_several_threads_at_once() {
    let e = Namespace::new(Config::default()).unwrap();
    let source: String = (0..8)
        .map(|i| format!("fn f{i}(x: i64) -> i64 {{ var s = 0; var k = 0; while k < x {{ s = s + k * {i}; k = k + 1; }} s }}\n"))
        .collect();
    e.add_module("many", &source).unwrap();
    let barrier = std::sync::Barrier::new(8);
    let reported = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for i in 0..8i64 {
            let (e, barrier, reported) = (&e, &barrier, &reported);
            s.spawn(move || {
                barrier.wait();
                let report = e.call_with(&format!("f{i}"), &[Value::I64(100)], &CallOptions::default());
                assert_eq!(report.result.unwrap(), Value::I64(i * 4950));
                reported.lock().unwrap().extend(report.compiled);
            });
        }
    });
    // ORC runs pending units on whichever thread drives a lookup, so one call may
    // compile (and report) another's function: together, each is reported once.
    let mut reported = reported.into_inner().unwrap();
    reported.sort();
    assert_eq!(reported, (0..8).map(|i| format!("f{i}")).collect::<Vec<_>>());
    assert_eq!(e.stats().compiled, 8);
    assert!(e.functions().iter().all(|f| f.state == FunctionState::Compiled && f.calls == 1 && f.compile_us > 0));
}

#[test]
fn modules_choose_their_optimisation_level() {
    let e = Namespace::new(Config { profile: true, ..Config::default() }).unwrap();
    e.add_module_at("fast", "fn f(x: i64) -> i64 { x * 2 }", OptLevel::O0).unwrap();
    e.add_module_at("slow", "fn g(x: i64) -> i64 { x * 3 }", OptLevel::O3).unwrap();
    assert_eq!(e.call("f", &[Value::I64(2)]).unwrap(), Value::I64(4));
    assert_eq!(e.call("g", &[Value::I64(2)]).unwrap(), Value::I64(6));
    let levels: Vec<_> = e.compile_records().into_iter().map(|r| (r.function, r.opt_level)).collect();
    assert_eq!(levels, [("f".to_string(), 0), ("g".to_string(), 3)]);
}

#[test]
fn an_interrupt_ends_a_running_call_from_another_thread() {
    use std::sync::Arc;
    let e = Namespace::new(Config { interruptible: true, ..Config::default() }).unwrap();
    e.add_module("m", "fn spin() -> i64 { var i = 0; while true { i = i + 1; } i }\nfn quick() -> i64 { 7 }").unwrap();
    let interrupt = Arc::new(ore::Interrupt::new());
    let options = CallOptions { interrupt: Some(interrupt.clone()), ..CallOptions::default() };
    let trigger = interrupt.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        trigger.trigger();
    });
    let result = e.call_with("spin", &[], &options).result;
    t.join().unwrap();
    assert!(matches!(result, Err(Error::Runtime { error: RuntimeError::Interrupted, .. })), "{result:?}");
    interrupt.reset();
    assert_eq!(e.call_with("quick", &[], &options).result.unwrap(), Value::I64(7), "a reset interrupt lets calls run");
    let plain = Namespace::new(Config::default()).unwrap();
    plain.add_module("m", "fn quick() -> i64 { 7 }").unwrap();
    assert!(matches!(plain.call_with("quick", &[], &options).result, Err(Error::NotInterruptible)));
}
