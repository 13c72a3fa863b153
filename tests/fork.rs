//! A process that forks after Ore started its background threads (the deadline
//! watchdog, tier-up compiles): the child has none of them, and must start its own.
//! Python's `multiprocessing` forks by default on Linux.
//!
//! One test in its own binary: the child must not inherit another test's thread
//! holding a lock.

use ore::{CallOptions, Config, Error, Namespace, RuntimeError, Tier, Tiering, Value};
use std::time::{Duration, Instant};

const SOURCE: &str = "fn spin() -> i64 { var i = 0; while true { i = i + 1; } i }
fn add(a: i64, b: i64) -> i64 { a + b }
fn mul(a: i64, b: i64) -> i64 { a * b }";

fn tier(ns: &Namespace, name: &str) -> Option<Tier> {
    ns.functions().into_iter().find(|f| f.name == name).unwrap().tier
}

fn times_out(ns: &Namespace) -> bool {
    let options = CallOptions { timeout: Some(Duration::from_millis(50)), ..CallOptions::default() };
    matches!(ns.call_with("spin", &[], &options).result, Err(Error::Runtime { error: RuntimeError::Timeout, .. }))
}

/// What the child checks; its exit status says which check failed.
fn child(ns: &Namespace) -> i32 {
    if !times_out(ns) {
        return 10;
    }
    if ns.call("mul", &[Value::I64(6), Value::I64(7)]).ok() != Some(Value::I64(42)) {
        return 11;
    }
    if !ns.wait_for_tier_ups(Duration::from_secs(20)) || tier(ns, "mul") != Some(Tier::Optimized) {
        return 12;
    }
    0
}

#[test]
fn a_forked_child_times_calls_out_and_tiers_up_with_threads_of_its_own() {
    let config = Config { interruptible: true, tiering: Some(Tiering { hot_calls: 1, threads: 1 }), ..Config::default() };
    let ns = Namespace::new(config).unwrap();
    ns.add_module("m", SOURCE).unwrap();
    // Both threads start in the parent.
    assert!(times_out(&ns));
    assert_eq!(ns.call("add", &[Value::I64(2), Value::I64(3)]).unwrap(), Value::I64(5));
    assert!(ns.wait_for_tier_ups(Duration::from_secs(20)));
    assert_eq!(tier(&ns, "add"), Some(Tier::Optimized));

    // SAFETY: the child runs only Ore calls (no other test thread exists to have
    // held a lock at the fork) and leaves with `_exit`, skipping the parent's
    // exit handlers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let status = child(&ns);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(status) };
    }
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > give_up {
            // SAFETY: the child is ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung (a call without its timeout, or a tier-up never compiled)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "the child died: status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "10: no timeout, 11: wrong result, 12: no tier-up");
    // The parent's threads still work.
    assert!(times_out(&ns));
}
