//! A host that already runs Python (as the coming Python package will): Ore must
//! not initialise it again, must not take over its `sys.stdout`, and must not
//! deadlock when called with the GIL held. Its own test binary, so that Python is
//! started by the host here, not by Ore.

use ore::{Config, Namespace, Value};
use pyo3::prelude::*;

#[test]
fn ore_uses_the_hosts_interpreter_without_deadlock() {
    Python::initialize();
    Python::attach(|py| {
        py.run(c"import sys\nhost_marker = 41\nhost_stdout = sys.stdout", None, None).unwrap();
    });
    let engine = Namespace::new(Config::default()).unwrap();
    engine
        .add_module("m", "fn marker() -> i64 { py_eval_i64(\"host_marker + 1\") }\nfn set() { py_exec(\"ore_was_here = True\"); }")
        .unwrap();
    // Called while this thread holds the GIL: the built-ins take it re-entrantly.
    let from_inside = Python::attach(|_py| engine.call("marker", &[]).unwrap());
    assert_eq!(from_inside, Value::I64(42), "Ore sees the host's __main__");
    assert_eq!(engine.call("marker", &[]).unwrap(), Value::I64(42));
    engine.call("set", &[]).unwrap();
    Python::attach(|py| {
        let main = py.import("__main__").unwrap();
        assert!(main.getattr("ore_was_here").unwrap().is_truthy().unwrap());
        let same = py.eval(c"sys.stdout is host_stdout", Some(&main.dict()), None).unwrap();
        assert!(same.is_truthy().unwrap(), "Ore left the host's sys.stdout alone");
    });
}
