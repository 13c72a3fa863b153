//! The Rust embedding API: modules, typed calls, host functions, re-entrancy,
//! errors that leave the engine usable, and concurrent use.

use ore::{CType, Config, Error, ExternSig, Namespace, RuntimeError, Ty, Value};
use std::sync::OnceLock;

fn engine() -> Namespace {
    Namespace::new(Config::default()).expect("engine")
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Namespace>();
    assert_send_sync::<ore::Engine>();
}

#[test]
fn calls_with_every_value_type() {
    let e = engine();
    e.add_module(
        "types",
        r#"
        fn add(a: i64, b: i64) -> i64 { a + b }
        fn scale(x: f64, k: f64) -> f64 { x * k }
        fn negate(b: bool) -> bool { !b }
        fn greeting() -> str { "hello" }
        extern fn strlen(s: str) -> i64;
        fn length(s: str) -> i64 { strlen(s) }
        fn total(a: [i64]) -> i64 { var s = 0; var i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } s }
        fn doubled(a: [f64]) -> [f64] { var i = 0; while i < len(a) { a[i] = a[i] * 2.0; i = i + 1; } a }
        fn unit() {}
        "#,
    )
    .expect("module compiles");
    assert_eq!(e.call("add", &[Value::I64(40), Value::I64(2)]).unwrap(), Value::I64(42));
    assert_eq!(e.call("scale", &[Value::F64(1.5), Value::F64(4.0)]).unwrap(), Value::F64(6.0));
    assert_eq!(e.call("negate", &[Value::Bool(false)]).unwrap(), Value::Bool(true));
    assert_eq!(e.call("greeting", &[]).unwrap(), Value::Str("hello".into()));
    assert_eq!(e.call("length", &[Value::Str("four".into())]).unwrap(), Value::I64(4));
    assert_eq!(e.call("total", &[Value::ArrayI64(vec![1, 2, 3, 4])]).unwrap(), Value::I64(10));
    assert_eq!(e.call("doubled", &[Value::ArrayF64(vec![0.5, -1.0])]).unwrap(), Value::ArrayF64(vec![1.0, -2.0]));
    assert_eq!(e.call("unit", &[]).unwrap(), Value::Unit);
}

#[test]
fn functions_compile_on_first_call_only() {
    let e = engine();
    e.add_module("lazy", "fn a() -> i64 { b() + 1 }\nfn b() -> i64 { 41 }\nfn c() -> i64 { 0 }").unwrap();
    assert_eq!(e.stats().functions, 3);
    assert_eq!(e.stats().compiled, 0, "adding a module compiles nothing");
    assert_eq!(e.call("a", &[]).unwrap(), Value::I64(42));
    assert!(e.is_compiled("a") && e.is_compiled("b") && !e.is_compiled("c"));
    assert_eq!(e.stats().compiled, 2);
    e.call("a", &[]).unwrap();
    assert_eq!(e.stats().compiled, 2, "a second call compiles nothing more");
}

#[test]
fn eager_config_compiles_when_added() {
    let e = Namespace::new(Config { eager: true, ..Config::default() }).unwrap();
    e.add_module("eager", "fn a() -> i64 { 1 }\nfn b() -> i64 { 2 }").unwrap();
    assert_eq!(e.stats().compiled, 2);
    assert_eq!(e.call("b", &[]).unwrap(), Value::I64(2));
}

#[test]
fn runtime_errors_end_the_call_and_leave_the_engine_usable() {
    let e = engine();
    e.add_module(
        "errors",
        "fn div(a: i64, b: i64) -> i64 { a / b }\nfn at(i: i64) -> i64 { [7; 3][i] }\nfn down(n: i64) -> i64 { down(n + 1) + 1 }\nfn deep(n: i64) -> i64 { if n == 0 { 0 } else { deep(n - 1) + 1 } }",
    )
    .unwrap();
    let err = e.call("div", &[Value::I64(1), Value::I64(0)]).unwrap_err();
    assert!(matches!(err, Error::Runtime { error: RuntimeError::DivisionByZero, .. }), "{err}");
    assert_eq!(err.to_string(), "runtime error: division by zero");
    assert_eq!(e.call("div", &[Value::I64(9), Value::I64(3)]).unwrap(), Value::I64(3));
    let err = e.call("at", &[Value::I64(5)]).unwrap_err();
    assert_eq!(err.to_string(), "runtime error: index out of bounds: index 5, length 3");
    // On the test harness's own thread, with its default stack.
    let err = e.call("down", &[Value::I64(0)]).unwrap_err();
    assert!(matches!(err, Error::Runtime { error: RuntimeError::StackOverflow, .. }), "{err}");
    assert_eq!(e.call("deep", &[Value::I64(10_000)]).unwrap(), Value::I64(10_000));
}

#[test]
fn call_checks_names_and_arguments() {
    let e = engine();
    e.add_module("m", "fn f(x: i64) -> i64 { x }").unwrap();
    assert!(matches!(e.call("g", &[]), Err(Error::UnknownFunction(n)) if n == "g"));
    assert!(matches!(e.call("f", &[]), Err(Error::Arity { expected: 1, given: 0, .. })));
    let err = e.call("f", &[Value::F64(1.0)]).unwrap_err();
    assert!(matches!(err, Error::ArgumentType { index: 0, expected: Ty::I64, given: Ty::F64, .. }), "{err}");
}

#[test]
fn compile_errors_carry_locations_and_change_nothing() {
    let e = engine();
    e.add_module("good", "fn keep() -> i64 { 1 }").unwrap();
    let err = e.add_module("bad", "fn extra() -> i64 { 2 }\nfn broken() -> i64 {\n  undefined\n}").unwrap_err();
    let Error::Compile(ce) = err else { panic!("expected a compile error") };
    assert_eq!(ce.diagnostics.len(), 1);
    let d = &ce.diagnostics[0];
    assert_eq!((d.file.as_str(), d.line, d.column), ("bad", 3, 3));
    assert_eq!(d.message, "unknown variable `undefined`");
    assert!(d.rendered.starts_with("bad:3:3: error: unknown variable `undefined`\n3 |   undefined\n  |   ^"));
    assert!(e.function("extra").is_none(), "a failed module defines nothing");
    assert_eq!(e.call("keep", &[]).unwrap(), Value::I64(1));
}

#[test]
fn later_modules_see_earlier_functions() {
    let e = engine();
    e.add_module("one", "fn base() -> i64 { 10 }\nextern fn labs(x: i64) -> i64;").unwrap();
    e.add_module("two", "fn user() -> i64 { base() + labs(-5) }").unwrap();
    assert_eq!(e.call("user", &[]).unwrap(), Value::I64(15));
    let err = e.add_module("four", "\nfn base(x: i64) -> i64;").unwrap_err();
    assert!(
        err.to_string()
            .contains("four:2:1: error: `base` is `fn(i64) -> i64` here, but `fn() -> i64` where it was first declared, at one:1:1"),
        "{err}"
    );
}

extern "C" fn host_mul_add(a: i64, b: i64, c: f64) -> f64 {
    (a * b) as f64 + c
}

extern "C" fn host_is_positive(x: i64) -> bool {
    x > 0
}

#[test]
fn registered_host_functions_are_callable_through_extern() {
    let e = engine();
    e.register("host_mul_add", host_mul_add as extern "C" fn(i64, i64, f64) -> f64).unwrap();
    e.register("host_is_positive", host_is_positive as extern "C" fn(i64) -> bool).unwrap();
    e.add_module(
        "uses_host",
        "extern fn host_mul_add(a: i64, b: i64, c: f64) -> f64;\nextern fn host_is_positive(x: i64) -> bool;\nfn go() -> f64 { if host_is_positive(-1) { 0.0 } else { host_mul_add(6, 7, 0.5) } }",
    )
    .unwrap();
    assert_eq!(e.call("go", &[]).unwrap(), Value::F64(42.5));
    let err = e.add_module("again", "extern fn host_is_positive(x: f64) -> bool;").unwrap_err();
    assert!(err.to_string().contains("again:1:1: error: `host_is_positive` is already declared as"), "{err}");
    let fresh = engine();
    fresh.register("host_is_positive", host_is_positive as extern "C" fn(i64) -> bool).unwrap();
    let err = fresh.add_module("wrong", "extern fn host_is_positive(x: f64) -> bool;").unwrap_err();
    assert!(
        err.to_string().contains("wrong:1:1: error: host function `host_is_positive` is registered as `extern fn(i64) -> bool`"),
        "{err}"
    );
    assert!(matches!(e.register("host_is_positive", host_is_positive as extern "C" fn(i64) -> bool), Err(Error::HostFunctionExists(_))));
}

#[test]
fn raw_registration_takes_an_explicit_signature() {
    let e = engine();
    let sig = ExternSig { params: vec![CType::I64, CType::I64], ret: CType::I64 };
    extern "C" fn sub(a: i64, b: i64) -> i64 {
        a - b
    }
    // SAFETY: `sub` has exactly the signature `sig` describes.
    unsafe { e.register_raw("host_sub", sig, sub as *const () as usize) }.unwrap();
    e.add_module("m", "extern fn host_sub(a: i64, b: i64) -> i64;\nfn go() -> i64 { host_sub(50, 8) }").unwrap();
    assert_eq!(e.call("go", &[]).unwrap(), Value::I64(42));
}

/// Exported from the test binary (linked with -rdynamic) and found by name through
/// the process symbol generator, without registration.
#[no_mangle]
pub extern "C" fn ore_test_exported_triple(x: i64) -> i64 {
    x * 3
}

#[test]
fn exported_rust_functions_are_found_by_name() {
    let e = engine();
    e.add_module("m", "extern fn ore_test_exported_triple(x: i64) -> i64;\nfn go() -> i64 { ore_test_exported_triple(14) }").unwrap();
    assert_eq!(e.call("go", &[]).unwrap(), Value::I64(42));
}

static REENTRANT: OnceLock<Namespace> = OnceLock::new();

/// Host callback that calls back into the JIT: host -> JIT -> host -> JIT.
extern "C" fn host_reenter(x: i64) -> i64 {
    let e = REENTRANT.get().expect("engine set");
    match e.call("inner", &[Value::I64(x)]) {
        Ok(Value::I64(v)) => v,
        Ok(other) => panic!("unexpected {other:?}"),
        // The inner call's runtime error ends the inner call only.
        Err(Error::Runtime { .. }) => -1,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn host_callbacks_can_reenter_the_jit() {
    let e = REENTRANT.get_or_init(engine);
    e.register("host_reenter", host_reenter as extern "C" fn(i64) -> i64).unwrap();
    e.add_module(
        "reentry",
        r#"
        extern fn host_reenter(x: i64) -> i64;
        fn inner(x: i64) -> i64 { 100 / x }
        fn outer(x: i64) -> i64 { let a = [x; 4]; let r = host_reenter(x); r + a[3] }
        "#,
    )
    .unwrap();
    assert_eq!(e.call("outer", &[Value::I64(5)]).unwrap(), Value::I64(25));
    // Division by zero inside the inner call: the outer call continues with -1.
    assert_eq!(e.call("outer", &[Value::I64(0)]).unwrap(), Value::I64(-1));
    assert!(e.is_compiled("inner"), "the inner function was compiled from inside a callback");
}

#[test]
fn concurrent_calls_compile_and_run_correctly() {
    let e = engine();
    let mut src = String::new();
    for i in 0..16 {
        src.push_str(&format!("fn work{i}(n: i64) -> i64 {{ var s = 0; var k = 0; while k < n {{ s = s + k * {i}; k = k + 1; }} s }}\n"));
    }
    e.add_module("many", &src).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let e = e.clone();
            scope.spawn(move || {
                for round in 0..20 {
                    let i = (t + round) % 16;
                    let n = 1000 + t as i64;
                    let want = (0..n).map(|k| k * i as i64).sum::<i64>();
                    assert_eq!(e.call(&format!("work{i}"), &[Value::I64(n)]).unwrap(), Value::I64(want));
                }
            });
        }
    });
    assert_eq!(e.stats().compiled, 16);
}

#[test]
fn every_opt_level_agrees() {
    let src = "fn f(n: i64) -> f64 { var s = 0.0; var i = 1; while i <= n { s = s + 1.0 / (i * i) as f64; i = i + 1; } s }";
    let mut results = Vec::new();
    for level in 0..=3 {
        let e = Namespace::new(Config { opt_level: ore::OptLevel::new(level).unwrap(), ..Config::default() }).unwrap();
        e.add_module("m", src).unwrap();
        results.push(e.call("f", &[Value::I64(1000)]).unwrap());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
}
