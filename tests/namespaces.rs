//! One engine, many namespaces: each sees only its own functions, host functions
//! and external code, whatever the others define, and dropping one frees its code
//! for the others to reuse (invariant `namespace-isolation` in ARCHITECTURE.md).

use ore::{Config, Engine, Error, Namespace, RuntimeError, Value};

fn two() -> (Engine, Namespace, Namespace) {
    let engine = Engine::new().expect("engine");
    let a = engine.namespace(Config::default()).expect("namespace a");
    let b = engine.namespace(Config::default()).expect("namespace b");
    (engine, a, b)
}

fn i64_of(ns: &Namespace, name: &str) -> Result<i64, Error> {
    match ns.call(name, &[])? {
        Value::I64(v) => Ok(v),
        other => panic!("{name} returned {other:?}"),
    }
}

fn is_undefined(result: Result<i64, Error>, name: &str) -> bool {
    matches!(result, Err(Error::Runtime { error: RuntimeError::UndefinedFunction(n), .. }) if n == name)
}

#[test]
fn the_same_names_in_two_namespaces_are_different_functions() {
    let (_engine, a, b) = two();
    // Same module names, same function names, same version numbers.
    a.add_module("m", "fn f() -> i64 { 1 }\nfn g() -> i64 { f() * 10 }").unwrap();
    b.add_module("m", "fn f() -> i64 { 2 }\nfn g() -> i64 { f() * 10 }").unwrap();
    assert_eq!(i64_of(&a, "g").unwrap(), 10);
    assert_eq!(i64_of(&b, "g").unwrap(), 20);
    // A redefinition in one is not seen by the other, compiled or not.
    a.add_module("n", "fn f() -> i64 { 3 }").unwrap();
    assert_eq!(i64_of(&a, "g").unwrap(), 30);
    assert_eq!(i64_of(&b, "g").unwrap(), 20);
    a.undefine("f").unwrap();
    assert!(is_undefined(i64_of(&a, "g"), "f"));
    assert_eq!(i64_of(&b, "g").unwrap(), 20);
}

#[test]
fn a_declaration_never_reaches_another_namespaces_definition() {
    let (_engine, a, b) = two();
    a.add_module("m", "fn secret() -> i64 { 42 }").unwrap();
    b.add_module("m", "fn secret() -> i64;\nfn peek() -> i64 { secret() }").unwrap();
    assert!(is_undefined(i64_of(&b, "peek"), "secret"));
    assert!(matches!(b.call("nothing_here", &[]), Err(Error::UnknownFunction(_))));
    assert_eq!(i64_of(&a, "secret").unwrap(), 42);
}

#[test]
fn host_functions_belong_to_the_namespace_that_registered_them() {
    let (_engine, a, b) = two();
    a.register("host", || 7i64).unwrap();
    let err = b.add_module("m", "extern fn host() -> i64;\nfn f() -> i64 { host() }").unwrap_err();
    assert!(err.to_string().contains("host"), "{err}");
    // The same name registered again elsewhere is a separate function.
    b.register("host", || 8i64).unwrap();
    let source = "extern fn host() -> i64;\nfn f() -> i64 { host() }";
    a.add_module("m", source).unwrap();
    b.add_module("m", source).unwrap();
    assert_eq!(i64_of(&a, "f").unwrap(), 7);
    assert_eq!(i64_of(&b, "f").unwrap(), 8);
}

#[test]
fn external_code_belongs_to_the_namespace_that_added_it() {
    let (engine, a, b) = two();
    a.add_ir("lib.ll", b"define i64 @from_ir() {\n  ret i64 5\n}\n").unwrap();
    a.add_module("m", "extern fn from_ir() -> i64;\nfn f() -> i64 { from_ir() }").unwrap();
    assert_eq!(i64_of(&a, "f").unwrap(), 5);
    assert!(b.add_module("m", "extern fn from_ir() -> i64;\nfn f() -> i64 { from_ir() }").is_err());
    // IR in another namespace that only declares it cannot link against it.
    b.add_ir("user.ll", b"declare i64 @from_ir()\ndefine i64 @use_it() {\n  %v = call i64 @from_ir()\n  ret i64 %v\n}\n").unwrap();
    b.add_module("u", "extern fn use_it() -> i64;\nfn g() -> i64 { use_it() }").unwrap();
    assert!(i64_of(&b, "g").is_err(), "linked against another namespace's IR");
    drop(engine);
}

#[test]
fn load_adds_to_the_calling_namespace_only() {
    let (_engine, a, b) = two();
    a.add_module("m", "fn go() -> i64 { if load(\"fn later() -> i64 { 9 }\") { 1 } else { 0 } }").unwrap();
    assert_eq!(i64_of(&a, "go").unwrap(), 1);
    assert_eq!(i64_of(&a, "later").unwrap(), 9);
    assert!(matches!(b.call("later", &[]), Err(Error::UnknownFunction(_))));
}

#[test]
fn dropped_namespaces_give_their_code_back_and_leave_no_names_behind() {
    let engine = Engine::new().expect("engine");
    for round in 0..50i64 {
        let ns = engine.namespace(Config::default()).unwrap();
        ns.register("host", move || round).unwrap();
        ns.add_ir("lib.ll", format!("define i64 @ir_value() {{\n  ret i64 {round}\n}}\n").as_bytes()).unwrap();
        let source = format!(
            "extern fn host() -> i64;\nextern fn ir_value() -> i64;\nfn f() -> i64 {{ host() * 1000 + ir_value() * 10 + {} }}",
            round % 7
        );
        ns.add_module("m", &source).unwrap();
        assert_eq!(i64_of(&ns, "f").unwrap(), round * 1010 + round % 7, "round {round}");
        // Replaced code of a namespace that is then dropped.
        ns.add_module("m", &source).unwrap();
    }
    // Reused dylibs hold nothing of their past: IR that declares what earlier
    // namespaces defined does not link.
    let last = engine.namespace(Config::default()).unwrap();
    last.add_ir("user.ll", b"declare i64 @ir_value()\ndefine i64 @use_it() {\n  %v = call i64 @ir_value()\n  ret i64 %v\n}\n").unwrap();
    last.add_module("u", "extern fn use_it() -> i64;\nfn g() -> i64 { use_it() }").unwrap();
    assert!(i64_of(&last, "g").is_err());
}

#[test]
fn namespaces_run_concurrently_in_one_engine() {
    let engine = Engine::new().expect("engine");
    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 0..25i64 {
                    let ns = engine.namespace(Config::default()).unwrap();
                    ns.add_module("m", &format!("fn f(x: i64) -> i64 {{ x * {t} + {i} }}")).unwrap();
                    assert_eq!(ns.call("f", &[Value::I64(100)]).unwrap(), Value::I64(100 * t + i));
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn a_calls_report_never_names_another_namespaces_functions() {
    // The engine's session may run one namespace's pending compiles on another's
    // thread; what a call reports as compiled must still be its own.
    let engine = Engine::new().expect("engine");
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for round in 0..40 {
                    let ns = engine.namespace(Config { eager: round % 2 == 0, ..Config::default() }).unwrap();
                    let names: Vec<String> = (0..4).map(|i| format!("t{t}_f{i}")).collect();
                    let body: String = names.iter().map(|n| format!("fn {n}(x: i64) -> i64 {{ x + 1 }}\n")).collect();
                    let calls: String = names.iter().map(|n| format!("{n}(x) + ")).collect();
                    ns.add_module("m", &format!("{body}fn main_{t}(x: i64) -> i64 {{ {calls}0 }}")).unwrap();
                    let report = ns.call_with(&format!("main_{t}"), &[Value::I64(1)], &ore::CallOptions::default());
                    assert_eq!(report.result.unwrap(), Value::I64(8));
                    let own = |n: &String| n.starts_with(&format!("t{t}_")) || *n == format!("main_{t}");
                    assert!(report.compiled.iter().all(own), "thread {t} saw {:?}", report.compiled);
                    assert_eq!(ns.stats().compiled, 5, "every compile is counted by the time the call returns");
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}
