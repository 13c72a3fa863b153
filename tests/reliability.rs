//! Regression tests of the reliability and security issue: forged `extern fn`
//! signatures, reserved runtime names, NULL strings, Python from IR, panicking
//! host functions. Each failed (or crashed the process) before its fix.

use ore::RuntimeError;
use ore::{allow_list, known_signature, DEFAULT_EXTERN_ALLOW_LIST};
use ore::{CType, ExternSig};
use ore::{Config, Error, Namespace, Policy, Value};
use std::process::Command;

/// An engine with the server's default policy: the default allow-list, no Python.
fn server_like_engine() -> Namespace {
    let policy = Policy { extern_allow_list: Some(allow_list(DEFAULT_EXTERN_ALLOW_LIST.iter().copied()).unwrap()), python: false };
    Namespace::new(Config { policy, ..Config::default() }).unwrap()
}

/// Every shape a tenant could forge from a real signature: each parameter and the
/// result swapped between integer, string and pointer types, one parameter more,
/// one fewer.
fn forgeries(params: &[CType], ret: CType) -> Vec<(Vec<CType>, CType)> {
    let swaps =
        |c: CType| -> Vec<CType> { [CType::I64, CType::I32, CType::F64, CType::Str, CType::Ptr].into_iter().filter(|o| *o != c).collect() };
    let mut out = Vec::new();
    for (i, p) in params.iter().enumerate() {
        for other in swaps(*p) {
            let mut forged = params.to_vec();
            forged[i] = other;
            out.push((forged, ret));
        }
    }
    for other in swaps(ret) {
        out.push((params.to_vec(), other));
    }
    let mut longer = params.to_vec();
    longer.push(CType::I64);
    out.push((longer, ret));
    if !params.is_empty() {
        out.push((params[..params.len() - 1].to_vec(), ret));
    }
    out
}

#[test]
fn every_default_extern_is_pinned_to_its_c_signature() {
    let engine = server_like_engine();
    let mut refused = 0;
    for name in DEFAULT_EXTERN_ALLOW_LIST {
        let sig = known_signature(name).unwrap();
        // Forgeries first: once declared, a name keeps its first signature anyway.
        for (params, ret) in forgeries(&sig.params, sig.ret) {
            let forged = ExternSig { params, ret }.declaration(name);
            let err = engine.add_module("forged", &forged).expect_err(&forged).to_string();
            let wanted = format!("forged:1:1: error: `extern fn {name}` must be declared as `{sig}` here");
            assert!(err.contains(&wanted), "{forged}\n{err}");
            refused += 1;
        }
        let good = sig.declaration(name);
        engine.add_module("good", &good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    assert!(refused > 300, "only {refused} forgeries tried");
}

#[test]
fn a_namespace_cannot_even_compile_a_read_of_memory() {
    // The attacks of the issue: a string's address out of `labs`, memory read through
    // `llabs` and `strlen` at chosen addresses.
    let engine = server_like_engine();
    for attack in [
        "extern fn labs(x: str) -> i64;\nfn leak() -> i64 { labs(\"secret\") }",
        "extern fn llabs(x: i64) -> str;\nfn peek(a: i64) -> str { llabs(a) }",
        "extern fn strlen(p: i64) -> i64;\nfn crash() -> i64 { strlen(16) }",
        "extern fn atof(p: ptr) -> f64;\nfn f(p: ptr) -> f64 { atof(p) }",
        "extern fn getenv(name: str) -> str;",
    ] {
        let err = engine.add_module("attack", attack).expect_err(attack);
        assert!(matches!(err, Error::Compile(_)), "{attack}: {err}");
    }
    assert!(engine.functions().is_empty(), "nothing of the attacks was added");
}

#[test]
fn an_operator_may_allow_a_function_with_its_exact_signature() {
    let list = allow_list(["getpid", "strtol:(str, ptr, i32) -> i64"]).unwrap();
    let engine = Namespace::new(Config { policy: Policy { extern_allow_list: Some(list), python: false }, ..Config::default() }).unwrap();
    engine.add_module("ok", "extern fn getpid() -> i32;\nfn pid() -> i64 { getpid() }").unwrap();
    assert_eq!(engine.call("pid", &[]).unwrap(), Value::I64(std::process::id() as i64));
    let err = engine.add_module("no", "extern fn strtol(s: str, end: i64, base: i32) -> i64;").unwrap_err().to_string();
    assert!(err.contains("must be declared as `extern fn(str, ptr, i32) -> i64`"), "{err}");
    engine.add_module("ok2", "extern fn strtol(s: str, end: ptr, base: i32) -> i64;").unwrap();
    // Not listed at all.
    let err = engine.add_module("no", "extern fn sqrt(x: f64) -> f64;").unwrap_err().to_string();
    assert!(err.contains("`extern fn sqrt` is not allowed here: it is not on this engine's allow-list"), "{err}");
}

#[test]
fn ir_modules_cannot_replace_the_runtime() {
    let engine = Namespace::new(Config::default()).unwrap();
    engine.add_module("m", "fn div(a: i64, b: i64) -> i64 { a / b }").unwrap();
    for name in ["ore.rt.trap", "ore.rt.array_new", "ore.div", "ore.host.x", "ore.tramp.x"] {
        let ir = format!("define void @\"{name}\"(ptr %ctx, i64 %a, i64 %b, i64 %c) {{\n  ret void\n}}\n");
        let err = engine.add_ir("evil", ir.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(&format!("evil: `{name}` is a reserved name")), "{err}");
    }
    let ir = "@\"ore.rt.data\" = global i64 0\n";
    assert!(engine.add_ir("evil", ir.as_bytes()).unwrap_err().to_string().contains("reserved name"));
    // The runtime is still Ore's.
    engine.add_module("m2", "fn div2(a: i64, b: i64) -> i64 { a / b }").unwrap();
    let err = engine.call("div2", &[Value::I64(10), Value::I64(0)]).unwrap_err();
    assert!(matches!(err, Error::Runtime { error: RuntimeError::DivisionByZero, .. }), "{err}");
}

#[test]
fn a_panicking_host_closure_ends_the_call_with_an_error() {
    let engine = Namespace::new(Config::default()).unwrap();
    engine
        .register("checked_sqrt", |x: i64| -> i64 {
            if x < 0 {
                panic!("negative input {x}");
            }
            (x as f64).sqrt() as i64
        })
        .unwrap();
    engine
        .add_module(
            "m",
            "extern fn checked_sqrt(x: i64) -> i64;
             fn deep(n: i64, x: i64) -> i64 { if n == 0 { checked_sqrt(x) + 1000 } else { deep(n - 1, x) + 1 } }
             fn after(x: i64) -> i64 { checked_sqrt(x); print(\"not reached\"); 0 }",
        )
        .unwrap();
    assert_eq!(engine.call("deep", &[Value::I64(3), Value::I64(16)]).unwrap(), Value::I64(1007));
    for (f, args) in [("deep", vec![Value::I64(5), Value::I64(-4)]), ("after", vec![Value::I64(-1)])] {
        let err = engine.call(f, &args).unwrap_err();
        match &err {
            Error::Runtime { error: RuntimeError::HostPanic { function, message }, .. } => {
                assert_eq!(function, "checked_sqrt");
                assert!(message.starts_with("negative input -"), "{message}");
            }
            other => panic!("{f}: expected a host panic error, got {other:?}"),
        }
        assert!(err.to_string().starts_with("runtime error: host function `checked_sqrt` panicked: negative input"), "{err}");
    }
    // The engine stays usable.
    assert_eq!(engine.call("deep", &[Value::I64(2), Value::I64(9)]).unwrap(), Value::I64(1005));
}

#[test]
fn a_null_string_into_a_host_closure_is_an_error() {
    let engine = Namespace::new(Config::default()).unwrap();
    engine.register("shout", |s: String| -> i64 { s.len() as i64 }).unwrap();
    engine
        .add_module("m", "extern fn getenv(n: str) -> str;\nextern fn shout(s: str) -> i64;\nfn f() -> i64 { shout(getenv(\"ORE_UNSET_VARIABLE_FOR_TEST\")) }")
        .unwrap();
    let err = engine.call("f", &[]).unwrap_err().to_string();
    assert!(err.contains("host function `shout` failed: null string passed as an argument"), "{err}");
}

/// IR that uses the Python C-API, in a process where nothing started Python: it
/// must start it (as for Ore code), not crash. A fresh `ore` process, since any
/// test in this binary may have started Python already.
#[test]
fn ir_calling_python_starts_the_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let ir = r#"
declare i32 @PyGILState_Ensure()
declare void @PyGILState_Release(i32)
declare ptr @PyLong_FromLong(i64)
declare i64 @PyLong_AsLong(ptr)
declare void @Py_DecRef(ptr)

define i64 @through_python(i64 %x) {
  %g = call i32 @PyGILState_Ensure()
  %o = call ptr @PyLong_FromLong(i64 %x)
  %v = call i64 @PyLong_AsLong(ptr %o)
  call void @Py_DecRef(ptr %o)
  call void @PyGILState_Release(i32 %g)
  %r = add i64 %v, 1
  ret i64 %r
}
"#;
    std::fs::write(dir.path().join("py.ll"), ir).unwrap();
    std::fs::write(dir.path().join("prog.ore"), "extern fn through_python(x: i64) -> i64;\nfn main() -> i64 { through_python(41) }\n")
        .unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_ore")).current_dir(dir.path()).args(["run", "--link", "py.ll", "prog.ore"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
}

#[test]
fn ir_calling_python_is_refused_where_python_is_not_allowed() {
    let engine = server_like_engine();
    let ir = "declare ptr @PyLong_FromLong(i64)\ndefine ptr @f(i64 %x) {\n  %o = call ptr @PyLong_FromLong(i64 %x)\n  ret ptr %o\n}\n";
    let err = engine.add_ir("py", ir.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("py: `PyLong_FromLong` is not allowed here: this engine does not allow Python"), "{err}");
}

/// A module whose `f` takes a while to compile at -O2 (a long body, below the
/// huge-function bound).
fn slow_to_compile(k: i64) -> String {
    let body: String = (0..250).map(|i| format!(" s = s + (x * {i} + {k}) / (x + {}) ;", i + 1)).collect();
    format!("fn f(x: i64) -> i64 {{ var s = 0;{body} s }}")
}

#[test]
fn a_call_compiles_its_function_once_while_replacements_keep_coming() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let engine = Namespace::new(Config::default()).unwrap();
    engine.add_module("m", &slow_to_compile(0)).unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let replaced = std::sync::Arc::new(AtomicUsize::new(0));
    let replacer = {
        let (engine, stop, replaced) = (engine.clone(), stop.clone(), replaced.clone());
        std::thread::spawn(move || {
            let mut old = None;
            for k in 1.. {
                if stop.load(Relaxed) {
                    break;
                }
                let info = engine.add_module("m", &slow_to_compile(k)).unwrap();
                if let Some(old) = old.replace(info.id) {
                    engine.remove_module(old).unwrap();
                }
                replaced.fetch_add(1, Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    // Calls until 20 replacements have landed among them (bounded in time, for a
    // loaded machine; the assertions are on compile counts only).
    let mut calls = 0;
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while replaced.load(Relaxed) < 20 && std::time::Instant::now() < give_up {
        let report = engine.call_with("f", &[Value::I64(3)], &ore::CallOptions::default());
        assert!(report.result.is_ok(), "{:?}", report.result);
        // None if the slot still held the version a call before compiled.
        let compiles = report.compiled.iter().filter(|n| *n == "f").count();
        assert!(compiles <= 1, "one call compiled `f` {compiles} times");
        calls += 1;
    }
    stop.store(true, Relaxed);
    replacer.join().unwrap();
    assert!(replaced.load(Relaxed) >= 20, "only {} replacements ran during {calls} calls", replaced.load(Relaxed));
}

/// `count` calls of a small leaf function inside one loop.
fn calls_in_a_loop(count: usize) -> String {
    let body: String = (0..count).map(|k| format!(" s = s + leaf(i + {k});")).collect();
    format!("fn leaf(x: i64) -> i64 {{ x * 2 + 1 }}\nfn main() -> i64 {{ var s = 0; var i = 0; while i < 10 {{{body} i = i + 1; }} s }}\n")
}

#[test]
fn inlined_copies_have_a_budget_per_function() {
    // At -O0 LLVM inlines nothing, so every use of the copy is still a call. `leaf`
    // is 6 nodes; a function may inline 1,000 nodes (`codegen::inline::NODES_PER_FUNCTION`).
    assert_eq!(ore::INLINE_NODES_PER_FUNCTION, 1000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.ore"), calls_in_a_loop(300)).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_ore")).current_dir(dir.path()).args(["run", "-O0", "--emit", "ir", "p.ore"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let expected: i64 = (0..10).map(|i| (0..300).map(|k| 2 * (i + k) + 1).sum::<i64>()).sum();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected.to_string());
    let ir = String::from_utf8_lossy(&out.stderr);
    assert_eq!(ir.matches("call i64 @ore.copy.leaf").count(), 166, "copies past the budget call through the slot");
}

#[test]
fn a_loop_whose_indexing_is_checked_once_vectorises() {
    // Three arrays indexed by the loop's index: one test before the loop covers
    // them (`codegen::ranges`), and the copy of the loop without checks is one
    // LLVM vectorises. With a check per indexing it would not. With deadline
    // checks (`--timeout`), it checks once per chunk of iterations, and the loop
    // over a chunk vectorises as well.
    let dir = tempfile::tempdir().unwrap();
    let src = "fn add(a: [i64], b: [i64], c: [i64], n: i64) { var i = 0; while i < n { c[i] = a[i] + b[i]; i = i + 1; } }
fn main() -> i64 { let c = [0; 3000]; add([2; 3000], [3; 3000], c, 3000); c[0] + c[1500] + c[2999] }\n";
    std::fs::write(dir.path().join("p.ore"), src).unwrap();
    for deadline in [&[][..], &["--timeout", "60000"]] {
        let args = [&["run", "--emit", "ir"][..], deadline, &["p.ore"]].concat();
        let out = Command::new(env!("CARGO_BIN_EXE_ore")).current_dir(dir.path()).args(args).output().unwrap();
        assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), "15"), "{deadline:?}");
        let ir = String::from_utf8_lossy(&out.stderr);
        let add = ir.split("; ---- ").find(|f| f.starts_with("add ----")).expect("add's IR");
        assert!(add.contains("x i64>"), "no vector code with {deadline:?} in:\n{add}");
    }
}

#[test]
fn a_huge_function_is_compiled_at_o0() {
    let engine = Namespace::new(Config { profile: true, ..Config::default() }).unwrap();
    // About 6 nodes a statement: 1,000 statements are over `tir::HUGE_FUNCTION_NODES`.
    engine.add_module("m", &calls_in_a_loop(1000)).unwrap();
    let expected: i64 = (0..10).map(|i| (0..1000).map(|k| 2 * (i + k) + 1).sum::<i64>()).sum();
    assert_eq!(engine.call("main", &[]).unwrap(), Value::I64(expected));
    let levels: Vec<(String, u8)> = engine.compile_records().into_iter().map(|r| (r.function, r.opt_level)).collect();
    // `leaf` is compiled too: the calls past the inlining budget go through its slot.
    assert_eq!(levels, [("main".to_string(), 0), ("leaf".to_string(), 2)], "huge `main` at -O0, small `leaf` at -O2");
    engine.add_module("small", &calls_in_a_loop(10).replace("main", "small_main").replace("leaf", "small_leaf")).unwrap();
    engine.call("small_main", &[]).unwrap();
    assert_eq!(engine.compile_records()[2].function, "small_main");
    assert_eq!(engine.compile_records()[2].opt_level, 2);
}
