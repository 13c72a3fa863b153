//! Host functions registered with `Namespace::register`: closures and `extern "C"`
//! functions alike, fallible ones (`Err` is a runtime error), and ones that take
//! a `Caller` to call back into the namespace or add code to it.

use ore::{CallOptions, Caller, Config, Error, Namespace, RuntimeError, Value};
use std::ffi::c_void;
use std::sync::Arc;

fn namespace() -> Namespace {
    Namespace::new(Config::default()).expect("namespace")
}

#[test]
fn an_err_ends_the_ore_call_with_its_message() {
    let ns = namespace();
    ns.register("checked_sqrt", |x: i64| -> Result<i64, String> {
        if x < 0 {
            return Err(format!("negative input {x}"));
        }
        Ok((x as f64).sqrt() as i64)
    })
    .unwrap();
    ns.add_module(
        "m",
        "extern fn checked_sqrt(x: i64) -> i64;
         fn deep(n: i64, x: i64) -> i64 { if n == 0 { checked_sqrt(x) + 1000 } else { deep(n - 1, x) + 1 } }
         fn after(x: i64) -> i64 { checked_sqrt(x); print(\"not reached\"); 0 }",
    )
    .unwrap();
    assert_eq!(ns.call("deep", &[Value::I64(3), Value::I64(16)]).unwrap(), Value::I64(1007));
    let err = ns.call("deep", &[Value::I64(40), Value::I64(-4)]).unwrap_err();
    assert!(
        matches!(&err, Error::Runtime { error: RuntimeError::HostError { function, message }, .. } if function == "checked_sqrt" && message == "negative input -4"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "runtime error: host function `checked_sqrt` failed: negative input -4");
    let report = ns.call_with("after", &[Value::I64(-1)], &CallOptions { capture_output: Some(100), ..CallOptions::default() });
    assert!(report.result.is_err());
    assert!(report.output.unwrap().stdout.is_empty(), "nothing after the failed call ran");
    assert_eq!(ns.call("deep", &[Value::I64(1), Value::I64(81)]).unwrap(), Value::I64(1010), "the namespace stays usable");
}

#[test]
fn any_display_error_type_works_and_unit_results_can_fail() {
    let ns = namespace();
    ns.register("parse", |s: String| s.trim().parse::<i64>()).unwrap();
    ns.register("must_be_even", |x: i64| if x % 2 == 0 { Ok(()) } else { Err(std::fmt::Error) }).unwrap();
    ns.add_module(
        "m",
        "extern fn parse(s: str) -> i64;\nextern fn must_be_even(x: i64);\nfn p(s: str) -> i64 { parse(s) * 2 }\nfn e(x: i64) -> i64 { must_be_even(x); x }",
    )
    .unwrap();
    assert_eq!(ns.call("p", &[Value::Str(" 21 ".into())]).unwrap(), Value::I64(42));
    let err = ns.call("p", &[Value::Str("x".into())]).unwrap_err().to_string();
    assert_eq!(err, "runtime error: host function `parse` failed: invalid digit found in string");
    assert_eq!(ns.call("e", &[Value::I64(4)]).unwrap(), Value::I64(4));
    assert!(ns.call("e", &[Value::I64(3)]).unwrap_err().to_string().contains("`must_be_even` failed: an error occurred"));
}

#[test]
fn an_err_in_a_nested_call_ends_only_that_call() {
    let ns = namespace();
    ns.register("fails", |x: i64| -> Result<i64, &'static str> {
        if x > 0 {
            Err("inner failure")
        } else {
            Ok(0)
        }
    })
    .unwrap();
    ns.register("try_inner", |caller: Caller, x: i64| -> i64 {
        match caller.namespace().call("inner", &[Value::I64(x)]) {
            Ok(Value::I64(v)) => v,
            Err(e) => -(e.to_string().len() as i64),
            Ok(other) => panic!("{other:?}"),
        }
    })
    .unwrap();
    ns.add_module(
        "m",
        "extern fn fails(x: i64) -> i64;\nextern fn try_inner(x: i64) -> i64;\nfn inner(x: i64) -> i64 { fails(x) + 1 }\nfn outer(x: i64) -> i64 { try_inner(x) * 10 }",
    )
    .unwrap();
    assert_eq!(ns.call("outer", &[Value::I64(0)]).unwrap(), Value::I64(10));
    let message = "runtime error: host function `fails` failed: inner failure";
    assert_eq!(ns.call("outer", &[Value::I64(1)]).unwrap(), Value::I64(-(message.len() as i64) * 10), "the outer call went on");
}

#[test]
fn a_caller_can_add_code_that_the_calling_ore_code_then_calls() {
    let ns = namespace();
    // A compiler callback, as a Python front end would be: it turns a name into a
    // definition and adds it to the namespace that asked.
    ns.register("define_constant", |caller: Caller, value: i64| -> Result<bool, Error> {
        caller.namespace().add_module("generated", &format!("fn constant() -> i64 {{ {value} }}"))?;
        Ok(true)
    })
    .unwrap();
    ns.add_module(
        "m",
        "extern fn define_constant(v: i64) -> bool;\nfn constant() -> i64;\nfn go(v: i64) -> i64 { if define_constant(v) { constant() } else { -1 } }",
    )
    .unwrap();
    assert_eq!(ns.call("go", &[Value::I64(5)]).unwrap(), Value::I64(5));
    assert_eq!(ns.call("go", &[Value::I64(6)]).unwrap(), Value::I64(6), "redefined from inside the call");
    // A compile error in the callback is the Ore call's error.
    ns.register("define_bad", |caller: Caller| -> Result<i64, Error> {
        caller.namespace().add_module("bad", "fn constant() -> i64 { true }")?;
        Ok(0)
    })
    .unwrap();
    ns.add_module("n", "extern fn define_bad() -> i64;\nfn bad() -> i64 { define_bad() }").unwrap();
    let err = ns.call("bad", &[]).unwrap_err().to_string();
    assert!(err.starts_with("runtime error: host function `define_bad` failed: "), "{err}");
    assert!(err.contains("bad:1:"), "the diagnostic keeps its location: {err}");
    assert_eq!(ns.call("constant", &[]).unwrap(), Value::I64(6), "the failed module changed nothing");
}

#[test]
fn registered_closures_do_not_keep_their_namespace_alive() {
    let token = Arc::new(());
    let ns = namespace();
    let held = token.clone();
    ns.register("with_caller", move |caller: Caller| -> i64 {
        Arc::strong_count(&held) as i64 + caller.namespace().functions().len() as i64
    })
    .unwrap();
    ns.add_module("m", "extern fn with_caller() -> i64;\nfn f() -> i64 { with_caller() }").unwrap();
    assert_eq!(ns.call("f", &[]).unwrap(), Value::I64(2 + 1));
    drop(ns);
    assert_eq!(Arc::strong_count(&token), 1, "the closure was freed with the namespace");
}

extern "C" fn c_six(a: i64, b: i32, c: f64, d: bool, e: *mut c_void, f: i64) -> f64 {
    a as f64 + b as f64 + c + d as i64 as f64 + e as usize as f64 + f as f64
}

#[test]
fn closures_and_c_functions_take_the_same_types_and_arity() {
    let ns = namespace();
    ns.register("c_six", c_six as extern "C" fn(i64, i32, f64, bool, *mut c_void, i64) -> f64).unwrap();
    ns.register("rust_six", |a: i64, b: i32, c: f64, d: bool, e: *mut c_void, f: i64| -> f64 {
        a as f64 + b as f64 + c + d as i64 as f64 + e as usize as f64 + f as f64
    })
    .unwrap();
    ns.register("narrow", |x: i32| -> i32 { x.wrapping_mul(2) }).unwrap();
    ns.register("null_ptr", || -> *mut c_void { std::ptr::null_mut() }).unwrap();
    ns.add_module(
        "m",
        "extern fn c_six(a: i64, b: i32, c: f64, d: bool, e: ptr, f: i64) -> f64;
         extern fn rust_six(a: i64, b: i32, c: f64, d: bool, e: ptr, f: i64) -> f64;
         extern fn narrow(x: i32) -> i32;
         extern fn null_ptr() -> ptr;
         fn both() -> f64 { c_six(1, -2, 0.5, true, null_ptr(), 100) + rust_six(1, -2, 0.5, true, null_ptr(), 100) }
         fn n(x: i64) -> i64 { narrow(x) }",
    )
    .unwrap();
    assert_eq!(ns.call("both", &[]).unwrap(), Value::F64(2.0 * (1.0 - 2.0 + 0.5 + 1.0 + 100.0)));
    assert_eq!(ns.call("n", &[Value::I64(-3)]).unwrap(), Value::I64(-6));
    assert_eq!(ns.call("n", &[Value::I64(0x4000_0000)]).unwrap(), Value::I64(i32::MIN as i64), "i32 wraps in the host");
}

#[test]
fn dynamic_host_functions_take_and_return_values_of_a_runtime_signature() {
    use ore::{CType, ExternSig};
    let ns = namespace();
    let sig = ExternSig { params: vec![CType::Str, CType::I32, CType::F64], ret: CType::F64 };
    ns.register_dynamic("mix", sig, |_caller, args| match args {
        [Value::Str(s), Value::I64(n), Value::F64(x)] => Ok(Value::F64(s.len() as f64 + *n as f64 + x)),
        other => Err(format!("unexpected arguments {other:?}")),
    })
    .unwrap();
    let wrong = ExternSig { params: vec![], ret: CType::I64 };
    ns.register_dynamic("lies", wrong, |_, _| Ok(Value::Bool(true))).unwrap();
    let text = ExternSig { params: vec![], ret: CType::Str };
    let err = ns.register_dynamic("text", text, |_, _| Ok(Value::Unit)).unwrap_err();
    assert_eq!(err.to_string(), "host function `text` cannot be registered: a host function cannot return `str`");
    ns.add_module(
        "m",
        "extern fn mix(s: str, n: i32, x: f64) -> f64;\nextern fn lies() -> i64;\nfn f() -> f64 { mix(\"abc\", 4294967297, 0.5) }\nfn g() -> i64 { lies() }",
    )
    .unwrap();
    assert_eq!(ns.call("f", &[]).unwrap(), Value::F64(3.0 + 1.0 + 0.5), "the i32 argument was truncated");
    let err = ns.call("g", &[]).unwrap_err().to_string();
    assert_eq!(err, "runtime error: host function `lies` failed: returned bool where `i64` is expected");
}

#[test]
fn ir_modules_call_registered_host_functions() {
    let ns = namespace();
    ns.register("host_double", |x: i64| x * 2).unwrap();
    ns.add_ir("lib.ll", b"declare i64 @host_double(i64)\ndefine i64 @quad(i64 %x) {\n  %d = call i64 @host_double(i64 %x)\n  %q = call i64 @host_double(i64 %d)\n  ret i64 %q\n}\n")
        .unwrap();
    ns.add_module("m", "extern fn quad(x: i64) -> i64;\nfn f() -> i64 { quad(5) }").unwrap();
    assert_eq!(ns.call("f", &[]).unwrap(), Value::I64(20));
}
