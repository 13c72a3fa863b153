//! Tiered compilation (`Config::tiering`): tier 0 at the first call, the top tier
//! once hot, and a redefinition or unload always winning over a tier-up.

use ore::{CallOptions, Caller, Config, Error, FunctionState, Namespace, RuntimeError, Tier, Tiering, Value};
use std::time::Duration;

fn tiered(hot_calls: u32, threads: usize) -> Namespace {
    Namespace::new(Config { tiering: Some(Tiering { hot_calls, threads }), ..Config::default() }).unwrap()
}

fn tier(ns: &Namespace, name: &str) -> Option<Tier> {
    ns.functions().into_iter().find(|f| f.name == name).unwrap().tier
}

fn settle(ns: &Namespace) {
    assert!(ns.wait_for_tier_ups(Duration::from_secs(60)), "background compiles finish");
}

#[test]
fn a_function_turns_hot_after_its_calls_and_runs_its_top_tier() {
    let ns = tiered(3, 1);
    ns.add_module("m", "fn add(a: i64, b: i64) -> i64 { a + b }").unwrap();
    for i in 0..2 {
        assert_eq!(ns.call("add", &[Value::I64(i), Value::I64(1)]).unwrap(), Value::I64(i + 1));
    }
    settle(&ns);
    assert_eq!(tier(&ns, "add"), Some(Tier::Baseline), "two calls of three");
    assert_eq!(ns.stats().tier_ups, 0);
    assert_eq!(ns.call("add", &[Value::I64(2), Value::I64(1)]).unwrap(), Value::I64(3));
    settle(&ns);
    assert_eq!(tier(&ns, "add"), Some(Tier::Optimized));
    let stats = ns.stats();
    assert_eq!((stats.compiled, stats.tier_0_compiled, stats.tier_ups), (1, 1, 1), "{stats:?}");
    assert!(stats.tier_up_us > 0);
    for i in 0..1000 {
        assert_eq!(ns.call("add", &[Value::I64(i), Value::I64(-i)]).unwrap(), Value::I64(0));
    }
    settle(&ns);
    assert_eq!(ns.stats().tier_ups, 1, "once hot, never again");
}

#[test]
fn calls_from_ore_code_count_as_much_as_calls_from_the_host() {
    let ns = tiered(100, 1);
    ns.add_module("m", "fn leaf(x: i64) -> i64 { x * 2 }\nfn twice(x: i64) -> i64 { leaf(leaf(x)) }\nfn lazy() -> i64 { 1 }").unwrap();
    for _ in 0..50 {
        assert_eq!(ns.call("twice", &[Value::I64(1)]).unwrap(), Value::I64(4));
    }
    settle(&ns);
    assert_eq!((tier(&ns, "leaf"), tier(&ns, "twice")), (Some(Tier::Optimized), Some(Tier::Baseline)));
    assert_eq!(tier(&ns, "lazy"), None, "never called, never compiled");
}

#[test]
fn a_long_call_moves_into_the_top_tier_at_its_loop() {
    let ns = tiered(100, 0);
    let source = "fn spin(n: i64) -> i64 { var s = 0; var i = 0; while i < n { s = s + i; i = i + 1; } s }
fn nested(n: i64) -> i64 { 1 + { var i = 0; while i < n { i = i + 1; } i } }";
    ns.add_module("m", source).unwrap();
    // The 100th iteration compiles the top tier with an entry at the loop; the
    // next iteration's header enters it with the locals as they are.
    assert_eq!(ns.call("spin", &[Value::I64(1000)]).unwrap(), Value::I64(499500));
    let stats = ns.stats();
    assert_eq!((stats.tier_ups, stats.loop_entries), (1, 1), "{stats:?}");
    assert_eq!(tier(&ns, "spin"), Some(Tier::Optimized));
    // A loop inside an expression has no entry: the call ends at tier 0, the
    // next runs the top tier.
    assert_eq!(ns.call("nested", &[Value::I64(1000)]).unwrap(), Value::I64(1001));
    assert_eq!(ns.call("nested", &[Value::I64(7)]).unwrap(), Value::I64(8));
    let stats = ns.stats();
    assert_eq!((stats.tier_ups, stats.loop_entries), (2, 1), "{stats:?}");

    // In the background: the loop runs at tier 0 until its top tier is ready,
    // then in it (`moved` stops the loop once the call has moved).
    let config = Config { tiering: Some(Tiering { hot_calls: 1000, threads: 1 }), interruptible: true, ..Config::default() };
    let ns = Namespace::new(config).unwrap();
    let probe = ns.clone();
    ns.register("moved", move || -> i64 { i64::from(probe.stats().loop_entries > 0) }).unwrap();
    let source = "extern fn moved() -> i64;
fn run() -> i64 { var i = 0; var stop = 0; while stop == 0 { i = i + 1; if i % 1000 == 0 { stop = moved(); } } i % 1000 }";
    ns.add_module("m", source).unwrap();
    let options = CallOptions { timeout: Some(Duration::from_secs(60)), ..CallOptions::default() };
    assert_eq!(ns.call_with("run", &[], &options).result.unwrap(), Value::I64(0));
    assert_eq!(ns.stats().loop_entries, 1);
    settle(&ns);
}

#[test]
fn tier_0_code_of_a_replaced_definition_never_enters_the_new_ones_top_tier() {
    let ns = tiered(20, 0);
    // At i == 5 the running `f` replaces itself and calls the new one once (at
    // tier 0); its own loop then counts the new definition hot, whose top tier
    // gets an entry at loop 0: the old code must go on in its own body.
    let source = r#"fn f(n: i64) -> i64 {
    var s = 0; var i = 0;
    while i < n {
        if i == 5 {
            load("fn f(n: i64) -> i64 { var t = 1000; var j = 0; while j < n { t = t + 1; j = j + 1; } t }");
            s = s + f(1) - 1001;
        }
        s = s + i; i = i + 1;
    }
    s
}"#;
    ns.add_module("m", source).unwrap();
    assert_eq!(ns.call("f", &[Value::I64(200)]).unwrap(), Value::I64(19900));
    let stats = ns.stats();
    assert_eq!((stats.tier_ups, stats.loop_entries), (1, 0), "the new definition's top tier, not entered: {stats:?}");
    assert_eq!(ns.call("f", &[Value::I64(10)]).unwrap(), Value::I64(1010));
}

#[test]
fn a_synchronous_tier_up_runs_the_top_tier_from_the_next_call_on() {
    let ns = tiered(1, 0);
    ns.add_module("m", "fn fib(n: i64) -> i64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }").unwrap();
    assert_eq!(ns.call("fib", &[Value::I64(25)]).unwrap(), Value::I64(75025));
    // No waiting: the first call compiled the top tier before it went on.
    assert_eq!(tier(&ns, "fib"), Some(Tier::Optimized));
    assert_eq!(ns.stats().tier_ups, 1);
}

#[test]
fn redefinitions_and_unloads_during_a_tier_up_always_win() {
    // Each round makes `f` hot (queueing its top tier) and at once replaces or
    // unloads it, while the background thread may be compiling the old body.
    let ns = tiered(1, 1);
    for round in 0..200i64 {
        let id = ns.add_module("m", &format!("fn f() -> i64 {{ {round} }}")).unwrap().id;
        assert_eq!(ns.call("f", &[]).unwrap(), Value::I64(round));
        if round % 2 == 0 {
            ns.add_module("n", &format!("fn f() -> i64 {{ {} }}", -round)).unwrap();
            settle(&ns);
            assert_eq!(ns.call("f", &[]).unwrap(), Value::I64(-round), "round {round}: the redefinition wins");
        } else {
            ns.remove_module(id).unwrap();
            settle(&ns);
            match ns.call("f", &[]) {
                Err(Error::Runtime { error: RuntimeError::UndefinedFunction(name), .. }) => assert_eq!(name, "f"),
                other => panic!("round {round}: the unload wins, got {other:?}"),
            }
        }
    }
    let stats = ns.stats();
    assert!(stats.tier_ups <= 300, "at most one per definition made hot: {stats:?}");
    // The last calls queued more; a test process must not exit under a compile.
    settle(&ns);
}

#[test]
fn traps_traces_and_deadlines_are_the_same_in_both_tiers() {
    let config = Config { tiering: Some(Tiering { hot_calls: 2, threads: 1 }), interruptible: true, ..Config::default() };
    let ns = Namespace::new(config).unwrap();
    let source = "fn div(a: i64, b: i64) -> i64 { a / b }
fn outer(b: i64) -> i64 { div(10, b) + 1 }
fn forever(n: i64) -> i64 { forever(n + 1) + 0 }";
    ns.add_module("traps.ore", source).unwrap();
    let failure = |ns: &Namespace| match ns.call("outer", &[Value::I64(0)]) {
        Err(Error::Runtime { error, trace }) => (error, trace.to_string()),
        other => panic!("a division by zero, got {other:?}"),
    };
    let at_tier_0 = failure(&ns);
    assert_eq!(ns.call("outer", &[Value::I64(5)]).unwrap(), Value::I64(3));
    settle(&ns);
    assert_eq!((tier(&ns, "div"), tier(&ns, "outer")), (Some(Tier::Optimized), Some(Tier::Optimized)));
    assert_eq!(failure(&ns), at_tier_0);
    assert_eq!(at_tier_0.0, RuntimeError::DivisionByZero);
    // A recursion without end: a deadline or the stack, at either tier.
    let options = CallOptions { timeout: Some(Duration::from_millis(200)), ..CallOptions::default() };
    for _ in 0..2 {
        let report = ns.call_with("forever", &[Value::I64(0)], &options);
        match report.result {
            Err(Error::Runtime { error: RuntimeError::Timeout | RuntimeError::StackOverflow, .. }) => {}
            other => panic!("a timeout or a stack overflow, got {other:?}"),
        }
        settle(&ns);
    }
    assert_eq!(tier(&ns, "forever"), Some(Tier::Optimized));
}

#[test]
fn a_namespace_dropped_with_a_tier_up_queued_goes_cleanly() {
    for _ in 0..20 {
        let ns = tiered(1, 1);
        ns.add_module("m", "fn f(x: i64) -> i64 { x + 1 }").unwrap();
        assert_eq!(ns.call("f", &[Value::I64(1)]).unwrap(), Value::I64(2));
        drop(ns);
    }
    // The queue went on: a later namespace's function still gets its top tier.
    let ns = tiered(1, 1);
    ns.add_module("m", "fn g() -> i64 { 7 }").unwrap();
    assert_eq!(ns.call("g", &[]).unwrap(), Value::I64(7));
    settle(&ns);
    assert_eq!(tier(&ns, "g"), Some(Tier::Optimized));
    assert!(ns.functions().iter().all(|f| f.state == FunctionState::Compiled));
}

#[test]
fn tier_ups_fill_the_object_cache_for_the_next_process() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let config =
            Config { tiering: Some(Tiering { hot_calls: 1, threads: 1 }), cache_dir: Some(dir.path().to_path_buf()), ..Config::default() };
        let ns = Namespace::new(config).unwrap();
        ns.add_module("m", "fn sq(x: i64) -> i64 { x * x }").unwrap();
        assert_eq!(ns.call("sq", &[Value::I64(7)]).unwrap(), Value::I64(49));
        settle(&ns);
        ns.stats()
    };
    let cold = run();
    assert_eq!((cold.cache_misses, cold.cache_hits, cold.tier_ups), (2, 0, 1), "tier 0 and the top tier: {cold:?}");
    let warm = run();
    assert_eq!((warm.cache_misses, warm.cache_hits, warm.tier_ups), (0, 2, 1), "{warm:?}");
}

#[test]
fn the_top_tier_carries_guarded_copies_of_small_callees_and_a_redefinition_still_wins() {
    let config = Config { tiering: Some(Tiering { hot_calls: 1, threads: 0 }), keep_code: true, ..Config::default() };
    let ns = Namespace::new(config).unwrap();
    ns.add_module("m", "fn leaf(x: i64) -> i64 { x * 2 }\nfn caller(x: i64) -> i64 { leaf(x) + 1 }").unwrap();
    let latest_ir = |ns: &Namespace| ns.code("caller").unwrap().ir.clone();
    assert_eq!(ns.call("caller", &[Value::I64(3)]).unwrap(), Value::I64(7));
    // The first call compiled the top tier before it went on; no loop, yet a copy.
    assert_eq!(tier(&ns, "caller"), Some(Tier::Optimized));
    let top = latest_ir(&ns);
    assert!(top.contains("ore.top.caller") && top.contains("ore.definition.leaf"), "{top}");
    assert_eq!(ns.call("caller", &[Value::I64(3)]).unwrap(), Value::I64(7));
    ns.add_module("n", "fn leaf(x: i64) -> i64 { x * 10 }").unwrap();
    assert_eq!(ns.call("caller", &[Value::I64(3)]).unwrap(), Value::I64(31), "the copy's guard sends the call to the new leaf");
}

#[test]
fn a_process_ends_cleanly_with_a_tier_up_compiling() {
    // `main` turns every function hot at once, and returns while the background
    // thread compiles their top tiers: exit must wait for that compile, since it
    // destroys LLVM's statics (this crashed one run in three before it did).
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("p.ore");
    let source = "fn fib(n: i64) -> i64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }
fn depth(n: i64) -> i64 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
fn fact(n: i64) -> i64 { if n <= 1 { return 1; } n * fact(n - 1) }
fn main() -> i64 { fib(20) + depth(20000) + fact(5) }";
    std::fs::write(&program, source).unwrap();
    for _ in 0..30 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ore"))
            .args(["run", "--tier", "auto", "--hot-calls", "1"])
            .arg(&program)
            .output()
            .unwrap();
        assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), "26885"), "{out:?}");
    }
}

/// Optimised code calls itself directly, not through its slot (so LLVM sees the
/// recursion), and checks at entry that it is still the definition: a
/// redefinition or unload during the recursion wins at the very next call.
#[test]
fn calls_of_itself_are_direct_and_a_redefinition_or_unload_mid_recursion_wins_at_the_next_one() {
    let source = "extern fn change(how: i64) -> i64;
fn depth(n: i64, how: i64) -> i64 {
    if n == 0 { 0 } else if n == 3 { change(how) + 1 + depth(n - 1, how) } else { 1 + depth(n - 1, how) }
}";
    let fixed = Config { keep_code: true, ..Config::default() };
    let tiered = Config { tiering: Some(Tiering { hot_calls: 1, threads: 0 }), ..fixed.clone() };
    for config in [fixed, tiered] {
        let ns = Namespace::new(config).unwrap();
        // 1 redefines `depth`, 2 undefines it, anything else changes nothing.
        ns.register("change", |caller: Caller, how: i64| -> Result<i64, Error> {
            match how {
                1 => caller.namespace().add_module("new.ore", "fn depth(n: i64, how: i64) -> i64 { 1000 }").map(drop)?,
                2 => caller.namespace().undefine("depth")?,
                _ => {}
            }
            Ok(0)
        })
        .unwrap();
        ns.add_module("r.ore", source).unwrap();
        let depth = |n: i64, how: i64| ns.call("depth", &[Value::I64(n), Value::I64(how)]);
        assert_eq!(depth(5, 0).unwrap(), Value::I64(5));
        let ir = ns.code("depth").unwrap().ir.clone();
        let symbol = ir.split("define i64 @").nth(1).and_then(|s| s.split('(').next()).expect("a definition");
        assert!(ir.contains(&format!("call i64 @{symbol}(")), "a direct call of itself:\n{ir}");
        assert_eq!(depth(5, 1).unwrap(), Value::I64(1003), "depth(2) is the new definition's");
        assert_eq!(depth(5, 1).unwrap(), Value::I64(1000));
        ns.add_module("r.ore", source).unwrap();
        assert_eq!(depth(5, 0).unwrap(), Value::I64(5));
        match depth(5, 2) {
            Err(Error::Runtime { error: RuntimeError::UndefinedFunction(name), trace }) => {
                assert_eq!(name, "depth");
                let shown = trace.to_string();
                // No frame of the replaced code's forwarding: each call once.
                assert_eq!(
                    shown, "  at depth (r.ore:3:56)\n  at depth (r.ore:3:87)\n  [the frame above repeated 1 more times]",
                    "{trace:?}"
                );
            }
            other => panic!("depth(2) should be undefined: {other:?}"),
        }
    }
}
