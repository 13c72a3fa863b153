//! Function handles: `Func` and `TypedFunc` check once, then call through the
//! function's slot, so they see redefinitions and unloads at once.

use ore::{Arg, CallOptions, Config, Error, Namespace, RuntimeError, Value};
use std::time::Duration;

fn namespace() -> Namespace {
    Namespace::new(Config { interruptible: true, ..Config::default() }).expect("namespace")
}

#[test]
fn typed_calls_of_every_type() {
    let ns = namespace();
    ns.add_module(
        "m",
        r#"
        fn add(a: i64, b: i64) -> i64 { a + b }
        fn mix(x: f64, flag: bool, s: str) -> str { if flag && x > 1.0 { s } else { "no" } }
        fn sum(a: [i64]) -> i64 { var s = 0; var i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } s }
        fn halves(a: [f64]) -> [f64] { var i = 0; while i < len(a) { a[i] = a[i] / 2.0; i = i + 1; } a }
        fn nothing() {}
        "#,
    )
    .unwrap();
    let add = ns.func("add").unwrap().typed::<(i64, i64), i64>().unwrap();
    assert_eq!(add.call((2, 3)).unwrap(), 5);
    assert_eq!(add.call((i64::MAX, 1)).unwrap(), i64::MIN, "wraps, as LANGUAGE.md says");
    let mix = ns.func("mix").unwrap().typed::<(f64, bool, String), String>().unwrap();
    assert_eq!(mix.call((2.0, true, "yes".into())).unwrap(), "yes");
    assert_eq!(mix.call((2.0, false, "yes".into())).unwrap(), "no");
    assert_eq!(ns.func("sum").unwrap().typed::<(Vec<i64>,), i64>().unwrap().call((vec![1, 2, 3],)).unwrap(), 6);
    let halves = ns.func("halves").unwrap().typed::<(Vec<f64>,), Vec<f64>>().unwrap();
    assert_eq!(halves.call((vec![1.0, -3.0],)).unwrap(), vec![0.5, -1.5]);
    ns.func("nothing").unwrap().typed::<(), ()>().unwrap().call(()).unwrap();
}

#[test]
fn types_are_checked_once_when_the_handle_is_made() {
    let ns = namespace();
    ns.add_module("m", "fn add(a: i64, b: i64) -> i64 { a + b }").unwrap();
    let add = ns.func("add").unwrap();
    assert_eq!(add.signature().to_string(), "fn(i64, i64) -> i64");
    let err = add.typed::<(i64, f64), i64>().err().expect("wrong parameter type");
    assert_eq!(err.to_string(), "`add` is `fn(i64, i64) -> i64`, not `fn(i64, f64) -> i64`");
    assert!(matches!(add.typed::<(i64,), i64>(), Err(Error::Signature { .. })), "wrong arity");
    assert!(matches!(add.typed::<(i64, i64), bool>(), Err(Error::Signature { .. })), "wrong result");
    assert!(matches!(ns.func("missing"), Err(Error::UnknownFunction(n)) if n == "missing"));
    // The untyped handle checks each call's arguments.
    assert!(matches!(add.call(&[Value::I64(1)]), Err(Error::Arity { .. })));
    assert_eq!(add.call(&[Value::I64(1), Value::I64(2)]).unwrap(), Value::I64(3));
}

#[test]
fn handles_see_redefinitions_and_unloads_at_once() {
    let ns = namespace();
    let first = ns.add_module("one", "fn f() -> i64 { 1 }").unwrap();
    let f = ns.func("f").unwrap().typed::<(), i64>().unwrap();
    assert_eq!(f.call(()).unwrap(), 1);
    let second = ns.add_module("two", "fn f() -> i64 { 2 }").unwrap();
    assert_eq!(f.call(()).unwrap(), 2, "compiled code was replaced");
    ns.remove_module(second.id).unwrap();
    assert!(matches!(f.call(()), Err(Error::Runtime { error: RuntimeError::UndefinedFunction(n), .. }) if n == "f"));
    // Its functions were all replaced: unloading it changes no definition.
    ns.remove_module(first.id).unwrap();
    assert!(matches!(f.call(()), Err(Error::Runtime { error: RuntimeError::UndefinedFunction(_), .. })));
    ns.add_module("three", "fn f() -> i64 { 3 }").unwrap();
    assert_eq!(f.call(()).unwrap(), 3);
    assert_eq!(ns.functions().iter().find(|i| i.name == "f").map(|i| i.calls), Some(5), "handle calls are counted");
}

#[test]
fn a_handle_to_a_declaration_works_once_it_is_defined() {
    let ns = namespace();
    ns.add_module("decl", "fn later(x: i64) -> i64;").unwrap();
    let later = ns.func("later").unwrap().typed::<(i64,), i64>().unwrap();
    assert!(matches!(later.call((1,)), Err(Error::Runtime { error: RuntimeError::UndefinedFunction(_), .. })));
    ns.add_module("def", "fn later(x: i64) -> i64 { x * 2 }").unwrap();
    assert_eq!(later.call((21,)).unwrap(), 42);
}

#[test]
fn typed_calls_take_call_options() {
    let ns = namespace();
    ns.add_module("m", "fn spin() -> i64 { var i = 0; while true { i = i + 1; } i }\nfn hello() { print(\"hi\"); }").unwrap();
    let spin = ns.func("spin").unwrap().typed::<(), i64>().unwrap();
    let options = CallOptions { timeout: Some(Duration::from_millis(50)), ..CallOptions::default() };
    assert!(matches!(spin.call_with((), &options).result, Err(Error::Runtime { error: RuntimeError::Timeout, .. })));
    let hello = ns.func("hello").unwrap().typed::<(), ()>().unwrap();
    let report = hello.call_with((), &CallOptions { capture_output: Some(100), ..CallOptions::default() });
    report.result.unwrap();
    assert_eq!(report.output.expect("captured").stdout, b"hi\n");
    assert_eq!(report.compiled, vec!["hello".to_string()]);
}

#[test]
fn lent_arrays_are_worked_on_in_place() {
    let ns = namespace();
    ns.add_module(
        "m",
        r#"
        fn scale(a: [f64], k: f64) -> f64 { var i = 0; while i < len(a) { a[i] = a[i] * k; i = i + 1; } a[0] }
        fn bump(a: [i64]) -> [i64] { a[1] = a[1] + 1; a }
        fn peek(a: [i64], i: i64) -> i64 { a[i] }
        "#,
    )
    .unwrap();
    let mut data = vec![1.0, 2.0, 3.0];
    let scale = ns.func("scale").unwrap();
    assert_eq!(scale.call_args(&mut [Arg::F64s(&mut data), Value::F64(2.0).into()]).unwrap(), Value::F64(2.0));
    assert_eq!(data, [2.0, 4.0, 6.0], "the writes are the caller's");
    // A returned lent array comes back copied, with the write in both.
    let mut counts = [5, 6, 7];
    let bumped = ns.func("bump").unwrap().call_args(&mut [Arg::I64s(&mut counts)]).unwrap();
    assert_eq!(bumped, Value::ArrayI64(vec![5, 7, 7]));
    assert_eq!(counts, [5, 7, 7]);
    // Bounds are the lent slice's, and types are checked as for `call`.
    let peek = ns.func("peek").unwrap();
    let err = peek.call_args(&mut [Arg::I64s(&mut counts[..2]), Value::I64(2).into()]).unwrap_err();
    assert!(matches!(err, Error::Runtime { error: RuntimeError::IndexOutOfBounds { index: 2, len: 2 }, .. }), "{err}");
    let err = peek.call_args(&mut [Arg::F64s(&mut data), Value::I64(0).into()]).unwrap_err();
    assert!(matches!(err, Error::ArgumentType { index: 0, .. }), "{err}");
}
