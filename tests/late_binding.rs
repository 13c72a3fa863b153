//! Late binding through the embedding API: declarations, redefinition seen by
//! compiled callers, unloading, and memory over many load/unload cycles.

use ore::{Config, Error, Namespace, RuntimeError, Value};

fn engine() -> Namespace {
    Namespace::new(Config::default()).expect("engine")
}

fn call_i64(e: &Namespace, name: &str) -> Result<i64, Error> {
    match e.call(name, &[])? {
        Value::I64(v) => Ok(v),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn redefinition_reaches_an_already_compiled_caller() {
    let e = engine();
    e.add_module("a", "fn f() -> i64 { 1 }\nfn g() -> i64 { f() * 10 }").unwrap();
    assert_eq!(call_i64(&e, "g").unwrap(), 10);
    assert!(e.is_compiled("g") && e.is_compiled("f"));
    e.add_module("b", "fn f() -> i64 { 2 }").unwrap();
    assert!(!e.is_compiled("f"), "the new body is compiled lazily too");
    assert_eq!(call_i64(&e, "g").unwrap(), 20, "g was compiled before f changed");
    assert_eq!(call_i64(&e, "f").unwrap(), 2, "host calls see the new body");
}

#[test]
fn declarations_are_callable_once_defined() {
    let e = engine();
    e.add_module("caller", "fn later(x: i64) -> i64;\nfn use_it() -> i64 { later(20) + 1 }").unwrap();
    let err = call_i64(&e, "use_it").unwrap_err();
    assert!(matches!(&err, Error::Runtime { error: RuntimeError::UndefinedFunction(n), .. } if n == "later"), "{err}");
    assert_eq!(err.to_string(), "runtime error: undefined function later");
    e.add_module("callee", "fn later(x: i64) -> i64 { x * 2 }").unwrap();
    assert_eq!(call_i64(&e, "use_it").unwrap(), 41);
}

#[test]
fn unloading_makes_functions_undefined_and_reloading_restores_them() {
    let e = engine();
    let lib = e.add_module("lib", "fn helper() -> i64 { 5 }").unwrap();
    e.add_module("app", "fn app() -> i64 { helper() + 1 }").unwrap();
    assert_eq!(call_i64(&e, "app").unwrap(), 6);
    e.remove_module(lib.id).unwrap();
    let err = call_i64(&e, "app").unwrap_err();
    assert_eq!(err.to_string(), "runtime error: undefined function helper");
    assert!(matches!(e.remove_module(lib.id), Err(Error::UnknownModule(_))));
    e.add_module("lib2", "fn helper() -> i64 { 7 }").unwrap();
    assert_eq!(call_i64(&e, "app").unwrap(), 8);
    assert_eq!(e.code_awaiting_release(), 0, "nothing runs, so nothing waits");
}

#[test]
fn replaced_code_waits_for_running_calls() {
    // The callback below redefines `f` while `f`'s old body is on the stack.
    static ENGINE: std::sync::OnceLock<Namespace> = std::sync::OnceLock::new();
    extern "C" fn redefine() -> i64 {
        let e = ENGINE.get().expect("set");
        e.add_module("new", "fn f() -> i64 { 2 }").expect("redefinition compiles");
        e.code_awaiting_release() as i64
    }
    let e = ENGINE.get_or_init(engine);
    e.register("redefine", redefine as extern "C" fn() -> i64).unwrap();
    e.add_module("old", "extern fn redefine() -> i64;\nfn f() -> i64 { redefine() * 100 + 1 }").unwrap();
    // During the call, the old module's code is retired but kept.
    assert_eq!(call_i64(e, "f").unwrap(), 101);
    assert_eq!(e.code_awaiting_release(), 0, "freed when the call ended");
    assert_eq!(call_i64(e, "f").unwrap(), 2);
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number")
}

#[test]
fn load_unload_cycles_keep_memory_flat() {
    let e = engine();
    e.add_module("app", "fn work(x: i64) -> i64;\nfn run(x: i64) -> i64 { work(x) + 1 }").unwrap();
    let cycle = |i: i64| {
        let m = e.add_module("work", &format!("fn work(x: i64) -> i64 {{ x * {i} }}")).unwrap();
        assert_eq!(e.call("run", &[Value::I64(3)]).unwrap(), Value::I64(3 * i + 1));
        e.remove_module(m.id).unwrap();
        // A module of declarations only: nothing to run, nothing to keep.
        let d = e.add_module("decl", "fn work(x: i64) -> i64;").unwrap();
        e.remove_module(d.id).unwrap();
    };
    // Warm up allocator pools and the spare-dylib pool before measuring.
    for i in 0..1000 {
        cycle(i);
    }
    // 2,000 cycles here; `cargo bench --bench interop` measures 10,000.
    let before = rss_kib();
    for i in 0..2_000 {
        cycle(i);
    }
    let growth = rss_kib().saturating_sub(before);
    eprintln!("RSS growth over 2,000 load/compile/unload cycles: {growth} KiB");
    // Each cycle compiles and frees a function (kilobytes of code and metadata);
    // what stays behind per cycle must stay small.
    assert!(growth < 4 * 1024, "RSS grew by {growth} KiB over 2,000 cycles");
}

/// Small leaf functions called in a loop are copied into the caller (so LLVM can
/// inline them); the copy stands only while the definition it was made from does.
#[test]
fn inlined_copies_give_way_to_redefinitions_and_unloads() {
    let e = ore::Namespace::new(ore::Config::default()).unwrap();
    let sum =
        "fn step(i: i64) -> i64 { i * 2 }\nfn sum(n: i64) -> i64 { var s = 0; var i = 0; while i < n { s = s + step(i); i = i + 1; } s }";
    let first = e.add_module("sum", sum).unwrap();
    assert_eq!(e.call("sum", &[ore::Value::I64(4)]).unwrap(), ore::Value::I64(12));
    assert!(e.is_compiled("sum"));
    assert!(!e.is_compiled("step"), "step ran as sum's inlined copy");

    // A redefinition in another module reaches the already compiled caller.
    let second = e.add_module("step", "fn step(i: i64) -> i64 { i * 10 }").unwrap();
    assert_eq!(e.call("sum", &[ore::Value::I64(4)]).unwrap(), ore::Value::I64(60));
    assert!(e.is_compiled("step"));
    // Unloading the redefinition leaves `step` undefined: the copy does not come back.
    e.remove_module(second.id).unwrap();
    let err = e.call("sum", &[ore::Value::I64(4)]).unwrap_err();
    assert_eq!(err.to_string(), "runtime error: undefined function step");
    // Reloading the original module recompiles `sum` with a fresh copy.
    e.remove_module(first.id).unwrap();
    e.add_module("sum", sum).unwrap();
    assert_eq!(e.call("sum", &[ore::Value::I64(4)]).unwrap(), ore::Value::I64(12));
}
