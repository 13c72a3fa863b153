//! `Namespace::evaluate` (statements and an expression, typed by inference, with
//! the input's own lines in diagnostics and traces) and `Namespace::code`.

use ore::{Config, Error, Evaluation, Namespace, Ty, Value};

#[test]
fn an_input_is_evaluated_with_the_type_of_its_expression() {
    let ns = Namespace::new(Config::default()).unwrap();
    ns.add_module("m", "fn sq(x: i64) -> i64 { x * x }").unwrap();
    let eval = |source: &str| ns.evaluate("in", source).unwrap();
    assert_eq!(eval("sq(7) + 1"), Evaluation { value: Value::I64(50), ty: Ty::I64 });
    assert_eq!(eval("let x = 2.5;\nx * 2.0"), Evaluation { value: Value::F64(5.0), ty: Ty::F64 });
    assert_eq!(eval("sq(2) == 4"), Evaluation { value: Value::Bool(true), ty: Ty::Bool });
    assert_eq!(eval("\"s\""), Evaluation { value: Value::Str("s".into()), ty: Ty::Str });
    assert_eq!(eval("[3; 2]"), Evaluation { value: Value::ArrayI64(vec![3, 3]), ty: Ty::ArrayI64 });
    assert_eq!(eval("let y = 1;"), Evaluation { value: Value::Unit, ty: Ty::Unit });
    // Results of one type, then another, then the first again: the wrappers never
    // change their signatures, and nothing of them stays defined.
    assert_eq!(eval("1").ty, Ty::I64);
    let defined: Vec<String> = ns.functions().into_iter().filter(|f| f.state != ore::FunctionState::Undefined).map(|f| f.name).collect();
    assert_eq!(defined, ["sq"]);
}

#[test]
fn diagnostics_and_traces_use_the_inputs_own_lines() {
    let ns = Namespace::new(Config::default()).unwrap();
    match ns.evaluate("in", "let a = 1;\nlet b = a + true;\nb") {
        Err(Error::Compile(e)) => {
            let d = &e.diagnostics[0];
            assert_eq!((d.file.as_str(), d.line, d.column), ("in", 2, 9), "{e}");
            assert!(d.rendered.starts_with("in:2:9: error:") && d.rendered.contains("\n2 | let b = a + true;"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    match ns.evaluate("in", "let v = [0; 1];\nv[3]") {
        Err(Error::Runtime { trace, .. }) => assert_eq!(trace.to_string(), "  at <input> (in:2:1)"),
        other => panic!("{other:?}"),
    }
    assert!(ns.evaluate("in", "1 +").is_err(), "a syntax error");
    // Input cannot close the wrapper and define functions of its own.
    match ns.evaluate("in", "1 }\nfn sneaky() -> i64 { 2") {
        Err(Error::Compile(e)) => assert!(e.diagnostics[0].message.starts_with("an input is statements and an expression"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(ns.function("sneaky").is_none(), "nothing was defined");
    match ns.evaluate("in", "return 5") {
        Err(Error::Compile(e)) => {
            assert_eq!(e.diagnostics[0].message, "`return` cannot end an input early: its value is its final expression")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ns.evaluate("in", "2").unwrap().value, Value::I64(2), "still usable");
}

#[test]
fn code_keeps_the_latest_compile_when_asked() {
    let source = "fn triple(x: i64) -> i64 { x * 3 }";
    let plain = Namespace::new(Config::default()).unwrap();
    plain.add_module("m", source).unwrap();
    plain.call("triple", &[Value::I64(1)]).unwrap();
    assert!(plain.code("triple").is_none(), "kept only with Config::keep_code");
    let kept = Namespace::new(Config { keep_code: true, ..Config::default() }).unwrap();
    kept.add_module("m", source).unwrap();
    assert!(kept.code("triple").is_none(), "not compiled yet");
    kept.call("triple", &[Value::I64(1)]).unwrap();
    let code = kept.code("triple").unwrap();
    assert!(code.ir.contains("define i64 @ore.triple(") && code.ir.contains("mul i64"), "{}", code.ir);
    assert!(code.asm.contains("ore.triple:") && code.asm.contains("ret"), "{}", code.asm);
}

#[test]
fn concurrent_evaluations_each_get_their_own_result() {
    // Evaluations of one result type share a wrapper name: each must still run
    // its own input, not one another thread defined meanwhile.
    let ns = Namespace::new(Config::default()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let ns = &ns;
            s.spawn(move || {
                for i in 0..50 {
                    let expected = t * 1000 + i;
                    assert_eq!(ns.evaluate("in", &expected.to_string()).unwrap().value, Value::I64(expected));
                }
            });
        }
    });
}
