//! Runtime errors carry the Ore call stack: the failing operation and each call
//! it returned through, with file, line, column and function, at every
//! optimisation level, through inlined copies, host callbacks and `load`ed code.

use ore::{CallOptions, Caller, Config, Error, Frame, Location, Namespace, OptLevel, RuntimeError, Trace, Value};
use std::time::Duration;

fn namespace(level: OptLevel) -> Namespace {
    Namespace::new(Config { opt_level: level, interruptible: true, ..Config::default() }).expect("namespace")
}

fn at(function: &str, file: &str, line: u32, column: u32) -> Frame {
    Frame { function: function.into(), location: Some(Location { file: file.into(), line, column }) }
}

fn host(function: &str) -> Frame {
    Frame { function: function.into(), location: None }
}

/// The error and trace of a call that must fail.
fn failure(ns: &Namespace, function: &str, args: &[Value]) -> (RuntimeError, Trace) {
    match ns.call(function, args) {
        Err(Error::Runtime { error, trace }) => (error, trace),
        other => panic!("`{function}` should fail at run time: {other:?}"),
    }
}

const PROGRAM: &str = "\
fn get(a: [i64], i: i64) -> i64 {
    a[i]
}
fn sum(a: [i64], n: i64) -> i64 {
    var s = 0;
    var i = 0;
    while i < n {
        s = s + get(a, i);
        i = i + 1;
    }
    s
}
fn quotient(a: i64, b: i64) -> i64 { a / b }
fn main() -> i64 {
    let a = [1; 3];
    sum(a, 5)
}
";

#[test]
fn a_trace_names_the_failing_operation_and_every_call_at_every_level() {
    for level in [OptLevel::O0, OptLevel::O2] {
        let ns = namespace(level);
        ns.add_module("prog.ore", PROGRAM).unwrap();
        let (error, trace) = failure(&ns, "main", &[]);
        assert_eq!(error, RuntimeError::IndexOutOfBounds { index: 3, len: 3 });
        // `get` is small and called in a loop, so at -O2 `sum` carries an inlined
        // copy of it: the copy records `get`'s frame all the same.
        let expected = vec![at("get", "prog.ore", 2, 5), at("sum", "prog.ore", 8, 17), at("main", "prog.ore", 16, 5)];
        assert_eq!((trace.frames, trace.omitted), (expected, 0), "{level:?}");
        let (error, trace) = failure(&ns, "quotient", &[Value::I64(1), Value::I64(0)]);
        assert_eq!((error, trace.frames), (RuntimeError::DivisionByZero, vec![at("quotient", "prog.ore", 13, 38)]));
        assert_eq!(ns.call("quotient", &[Value::I64(7), Value::I64(2)]).unwrap(), Value::I64(3), "still usable");
    }
}

/// One function, several calls that can fail: each leaves with its own site
/// (they share the function's one frame record, `codegen::checks`).
const CALLS: &str = "\
fn check(x: i64) -> i64 { 10 / x }
fn three(a: i64, b: i64, c: i64) -> i64 {
    check(a) + check(b) + check(c)
}
fn later(x: i64) -> f64;
fn twice_later(x: i64) -> f64 {
    2.0 * later(x)
}
";

#[test]
fn each_call_that_fails_is_its_frame_s_site_and_an_undefined_callee_fails_at_its_call() {
    for level in [OptLevel::O0, OptLevel::O2] {
        let ns = namespace(level);
        ns.add_module("calls.ore", CALLS).unwrap();
        for (args, column) in [([0, 1, 1], 5), ([1, 0, 1], 16), ([1, 1, 0], 27)] {
            let args: Vec<Value> = args.into_iter().map(Value::I64).collect();
            let (error, trace) = failure(&ns, "three", &args);
            assert_eq!(error, RuntimeError::DivisionByZero);
            assert_eq!(trace.frames, vec![at("check", "calls.ore", 1, 27), at("three", "calls.ore", 3, column)], "{level:?}");
        }
        assert_eq!(ns.call("three", &[Value::I64(1), Value::I64(2), Value::I64(5)]).unwrap(), Value::I64(17));
        // The callee is compiled by the call itself (its slot is empty), and
        // there is none to compile: the call still leaves from its own site.
        let (error, trace) = failure(&ns, "twice_later", &[Value::I64(1)]);
        assert_eq!(error, RuntimeError::UndefinedFunction("later".into()));
        assert_eq!(trace.frames, vec![at("twice_later", "calls.ore", 7, 11)], "{level:?}");
        ns.add_module("later.ore", "fn later(x: i64) -> f64 { x as f64 + 0.5 }").unwrap();
        assert_eq!(ns.call("twice_later", &[Value::I64(1)]).unwrap(), Value::F64(3.0), "{level:?}");
    }
}

#[test]
fn the_cli_report_is_the_message_then_a_line_per_frame() {
    let ns = namespace(OptLevel::O2);
    ns.add_module("prog.ore", PROGRAM).unwrap();
    let err = ns.call("main", &[]).unwrap_err();
    assert_eq!(err.to_string(), "runtime error: index out of bounds: index 3, length 3", "Display stays one line");
    assert_eq!(err.trace().unwrap().to_string(), "  at get (prog.ore:2:5)\n  at sum (prog.ore:8:17)\n  at main (prog.ore:16:5)");
}

#[test]
fn deep_recursion_keeps_the_innermost_frames_and_counts_the_rest() {
    let ns = namespace(OptLevel::O2);
    ns.add_module("r.ore", "fn deep(n: i64) -> i64 {\n    deep(n + 1) + 1\n}").unwrap();
    let (error, trace) = failure(&ns, "deep", &[Value::I64(0)]);
    assert_eq!(error, RuntimeError::StackOverflow);
    assert_eq!(trace.frames.len(), ore::MAX_TRACE_FRAMES);
    // The innermost frame failed its stack check at entry: it points at the name.
    assert_eq!(trace.frames[0], at("deep", "r.ore", 1, 4));
    assert!(trace.frames[1..].iter().all(|f| *f == at("deep", "r.ore", 2, 5)), "{:?}", &trace.frames[..3]);
    assert!(trace.omitted > 1000, "thousands of frames deep, not kept: {}", trace.omitted);
    let shown = trace.to_string();
    assert!(shown.contains("  [the frame above repeated 98 more times]\n  ... "), "{shown}");
}

#[test]
fn frames_of_loaded_code_and_of_undefined_functions() {
    let ns = namespace(OptLevel::O2);
    ns.add_module(
        "host.ore",
        "fn later(x: i64) -> i64;\nfn missing() -> i64;\nfn run(src: str) -> i64 {\n    load(src);\n    later(7)\n}\nfn call_missing() -> i64 { missing() * 2 }",
    )
    .unwrap();
    let (error, trace) = failure(&ns, "run", &[Value::Str("fn later(x: i64) -> i64 {\n  x % (x - 7)\n}".into())]);
    assert_eq!(error, RuntimeError::DivisionByZero);
    assert_eq!(trace.frames, vec![at("later", "<load>", 2, 3), at("run", "host.ore", 5, 5)]);
    let (error, trace) = failure(&ns, "call_missing", &[]);
    assert_eq!(error, RuntimeError::UndefinedFunction("missing".into()));
    assert_eq!(trace.frames, vec![at("call_missing", "host.ore", 7, 28)]);
    // A redefinition's frames name the module that defined it.
    ns.add_module("fix.ore", "fn later(x: i64) -> i64 { [0; 1][x] }").unwrap();
    let (_, trace) = failure(&ns, "run", &[Value::Str("".into())]);
    assert_eq!(trace.frames, vec![at("later", "fix.ore", 1, 27), at("run", "host.ore", 5, 5)]);
}

#[test]
fn a_host_function_that_passes_a_nested_error_on_is_a_frame_between_the_two() {
    let ns = namespace(OptLevel::O2);
    ns.register("relay", |caller: Caller, x: i64| -> Result<i64, Error> {
        match caller.namespace().call("inner", &[Value::I64(x)])? {
            Value::I64(v) => Ok(v),
            other => panic!("{other:?}"),
        }
    })
    .unwrap();
    ns.register("handle", |caller: Caller, x: i64| -> Result<i64, String> {
        caller.namespace().call("inner", &[Value::I64(x)]).map_err(|_| "inner failed, handled here".to_string())?;
        Ok(0)
    })
    .unwrap();
    ns.add_module(
        "cb.ore",
        "extern fn relay(x: i64) -> i64;\nextern fn handle(x: i64) -> i64;\nfn inner(x: i64) -> i64 { 10 / x }\nfn outer(x: i64) -> i64 {\n    relay(x) + 1\n}\nfn handled(x: i64) -> i64 { handle(x) }",
    )
    .unwrap();
    assert_eq!(ns.call("outer", &[Value::I64(5)]).unwrap(), Value::I64(3));
    let (error, trace) = failure(&ns, "outer", &[Value::I64(0)]);
    assert!(matches!(&error, RuntimeError::HostError { function, .. } if function == "relay"), "{error}");
    assert_eq!(trace.frames, vec![at("inner", "cb.ore", 3, 27), host("relay"), at("outer", "cb.ore", 5, 5)]);
    assert_eq!(trace.to_string().lines().nth(1), Some("  at relay (host function)"));
    // An error the host handled and replaced with its own has no nested frames.
    let (_, trace) = failure(&ns, "handled", &[Value::I64(0)]);
    assert_eq!(trace.frames, vec![at("handled", "cb.ore", 7, 29)]);
    // The nested failure does not linger for a later, unrelated host error.
    ns.register("plain_fail", |_: i64| -> Result<i64, String> { Err("division by zero".into()) }).unwrap();
    ns.add_module("p.ore", "extern fn plain_fail(x: i64) -> i64;\nfn p() -> i64 { plain_fail(1) }").unwrap();
    assert_eq!(failure(&ns, "p", &[]).1.frames, vec![at("p", "p.ore", 2, 17)]);
}

#[test]
fn a_timeout_points_at_the_loop_that_ran_and_engine_errors_have_no_frames() {
    // Eager: compiled before the call, so the 20 ms deadline cannot expire while
    // `spin` compiles (on a loaded machine it did, and `spin`'s entry check
    // raised the timeout instead of its loop).
    let ns = Namespace::new(Config { interruptible: true, eager: true, ..Config::default() }).unwrap();
    ns.add_module("spin.ore", "fn spin() -> i64 {\n    var i = 0;\n    while true { i = i + 1; }\n    i\n}\nfn go() -> i64 { spin() }")
        .unwrap();
    let options = CallOptions { timeout: Some(Duration::from_millis(20)), ..CallOptions::default() };
    match ns.call_with("go", &[], &options).result {
        Err(Error::Runtime { error: RuntimeError::Timeout, trace }) => {
            assert_eq!(trace.frames, vec![at("spin", "spin.ore", 3, 5), at("go", "spin.ore", 6, 18)])
        }
        other => panic!("{other:?}"),
    }
    // Errors raised before any Ore code runs have an empty trace.
    let err = ns.call("missing_entirely", &[]).unwrap_err();
    assert!(err.trace().is_none(), "{err}");
    ns.add_module("decl.ore", "fn declared() -> i64;").unwrap();
    let (error, trace) = failure(&ns, "declared", &[]);
    assert_eq!((error, trace.is_empty()), (RuntimeError::UndefinedFunction("declared".into()), true));
}
