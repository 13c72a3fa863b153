//! Where compiled code lives (`src/llvm/shim/memory.cpp`): functions share slabs,
//! so compiling thousands adds a few mappings, not thousands, and freed code
//! gives its memory back for reuse.

use ore::{Config, Engine, Value};

/// `n` functions and a `main` that calls them all, through `n / 100` callers of
/// 100 each.
fn program(n: usize) -> String {
    let mut s: String = (0..n).map(|i| format!("fn f{i}(x: i64) -> i64 {{ x * {} + 1 }}\n", i % 13)).collect();
    for c in 0..n / 100 {
        s.push_str(&format!("fn c{c}() -> i64 {{ var s = 0;"));
        s.extend((c * 100..(c + 1) * 100).map(|i| format!(" s = s + f{i}({i});")));
        s.push_str(" s }\n");
    }
    s.push_str("fn main() -> i64 { var s = 0;");
    s.extend((0..n / 100).map(|c| format!(" s = s + c{c}();")));
    s.push_str(" s }\n");
    s
}

fn expected(n: usize) -> i64 {
    (0..n as i64).map(|i| i * (i % 13) + 1).sum()
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
}

#[test]
fn thousands_of_compiled_functions_add_a_few_mappings() {
    let engine = Engine::new().unwrap();
    let ns = engine.namespace(Config { opt_level: ore::OptLevel::O0, ..Config::default() }).unwrap();
    ns.add_module("many", &program(3000)).unwrap();
    let before = mappings();
    assert_eq!(ns.call("main", &[]).unwrap(), Value::I64(expected(3000)));
    assert_eq!(ns.stats().compiled, 3031);
    let added = mappings().saturating_sub(before);
    // LLVM's own manager maps at least two per function (about 6,000 here).
    assert!(added < 50, "{added} mappings for 3,031 functions");
    let in_use = engine.code_memory_in_use().expect("slabs are mapped");
    assert!(in_use < 3031 * 1024, "{in_use} bytes of code and data for 3,031 small functions");
}

#[test]
fn freed_code_gives_its_memory_back_and_it_is_reused() {
    let engine = Engine::new().unwrap();
    let ns = engine.namespace(Config { opt_level: ore::OptLevel::O0, ..Config::default() }).unwrap();
    let base = engine.code_memory_in_use().unwrap();
    let mut first_cycle = None;
    let maps_before = mappings();
    for cycle in 0..30 {
        let info = ns.add_module("cycle", &program(100)).unwrap();
        assert_eq!(ns.call("main", &[]).unwrap(), Value::I64(expected(100)));
        let used = engine.code_memory_in_use().unwrap() - base;
        assert!(used > 0);
        // Every cycle compiles the same code: it takes the same room again.
        assert_eq!(*first_cycle.get_or_insert(used), used, "cycle {cycle}");
        ns.remove_module(info.id).unwrap();
        assert_eq!(engine.code_memory_in_use().unwrap(), base, "cycle {cycle}: unloaded code is freed");
    }
    assert!(mappings() <= maps_before + 10, "{} mappings after 30 cycles", mappings() - maps_before);
}
