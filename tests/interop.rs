//! Host interop: Rust closures, Python from several threads, the example host.

use ore::{Config, Error, Namespace, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

fn engine() -> Namespace {
    Namespace::new(Config::default()).expect("engine")
}

#[test]
fn closures_with_state_and_strings_are_host_functions() {
    let e = engine();
    let total = Arc::new(AtomicI64::new(0));
    let sink = total.clone();
    e.register("add_to_total", move |x: i64| sink.fetch_add(x, Ordering::Relaxed) + x).unwrap();
    e.register("shout_len", |s: String, twice: bool| -> i64 { s.len() as i64 * if twice { 2 } else { 1 } }).unwrap();
    e.register("half", |x: f64| x / 2.0).unwrap();
    e.register("nothing", || {}).unwrap();
    e.add_module(
        "m",
        "extern fn add_to_total(x: i64) -> i64;\nextern fn shout_len(s: str, twice: bool) -> i64;\nextern fn half(x: f64) -> f64;\nextern fn nothing();\nfn go() -> f64 { nothing(); add_to_total(5); add_to_total(6) as f64 + shout_len(\"four\", true) as f64 + half(3.0) }",
    )
    .unwrap();
    assert_eq!(e.call("go", &[]).unwrap(), Value::F64(11.0 + 8.0 + 1.5));
    assert_eq!(total.load(Ordering::Relaxed), 11);
    let err = e.add_module("bad", "extern fn half(x: i64) -> i64;").unwrap_err();
    assert!(err.to_string().contains("`half` is already declared as `extern fn(f64) -> f64`"), "{err}");
    assert!(matches!(e.register("half", |x: f64| x), Err(Error::HostFunctionExists(_))));
}

static REENTRANT: OnceLock<Namespace> = OnceLock::new();

#[test]
fn closures_can_reenter_and_trigger_compilation() {
    let e = REENTRANT.get_or_init(engine);
    e.register("via_ore", |x: i64| -> i64 {
        match REENTRANT.get().expect("set").call("triple", &[Value::I64(x)]) {
            Ok(Value::I64(v)) => v,
            _ => -1,
        }
    })
    .unwrap();
    e.add_module("m", "extern fn via_ore(x: i64) -> i64;\nfn triple(x: i64) -> i64 { x * 3 }\nfn go(x: i64) -> i64 { via_ore(x) + 1 }")
        .unwrap();
    assert!(!e.is_compiled("triple"));
    assert_eq!(e.call("go", &[Value::I64(7)]).unwrap(), Value::I64(22));
    assert!(e.is_compiled("triple"), "compiled from inside the closure");
}

#[test]
fn python_from_several_threads_at_once() {
    let e = engine();
    e.add_module(
        "py",
        "fn setup() { py_exec(\"def f(a, b):\\n    return a * b + 1\"); }\nfn work(n: i64) -> i64 { var s = 0; var i = 0; while i < n { s = s + py_call_i64(\"f\", i, 2); i = i + 1; } s }",
    )
    .unwrap();
    e.call("setup", &[]).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let e = e.clone();
            scope.spawn(move || {
                for _ in 0..25 {
                    // sum over i < 100 of (2i + 1) = 100^2
                    assert_eq!(e.call("work", &[Value::I64(100)]).unwrap(), Value::I64(10_000));
                }
            });
        }
    });
}

#[test]
fn python_exceptions_are_runtime_errors_and_python_stays_usable() {
    let e = engine();
    e.add_module("py", "fn boom() -> i64 { py_eval_i64(\"[][1]\") }\nfn fine() -> i64 { py_eval_i64(\"6 * 7\") }").unwrap();
    let err = e.call("boom", &[]).unwrap_err();
    assert_eq!(err.to_string(), "runtime error: python: IndexError: list index out of range");
    assert_eq!(e.call("fine", &[]).unwrap(), Value::I64(42));
}

#[test]
fn the_host_example_runs() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "host"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo run --example host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("[host] square: 9"), "{stdout}");
    assert!(stdout.contains("run(3) = 212.0; host_log was called 3 times"), "{stdout}");
}
