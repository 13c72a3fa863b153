//! What a namespace costs: N namespaces (default 250, `ORE_NAMESPACES`), each
//! created, given a one-function module and called once, all kept alive, as `ore
//! serve` does for its tenants. Side by side in one run: one engine for all of them
//! (what the server does) and an engine per namespace (the server before the split),
//! at -O2 (the default) and -O0.
//! Each way runs in a fresh child process, so that one's freed memory cannot hide
//! the other's cost. `cargo bench --bench namespaces`.

use ore::{Config, Engine, OptLevel, Value};
use std::process::Command;
use std::time::Instant;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number of kB")
}

fn config(level: OptLevel) -> Config {
    // As `ore serve` configures its namespaces.
    Config { interruptible: true, opt_level: level, ..Config::default() }
}

/// One tenant's life so far: a namespace with one module, called once.
fn tenant(engine: &Engine, level: OptLevel, i: i64) -> ore::Namespace {
    let ns = engine.namespace(config(level)).expect("namespace");
    ns.add_module("m", "fn f(x: i64) -> i64 { x + 1 }").expect("module");
    assert_eq!(ns.call("f", &[Value::I64(i)]).expect("call"), Value::I64(i + 1));
    ns
}

/// Runs in the child: prints `kib_per_namespace us_per_namespace
/// compile_us_per_namespace`.
fn child(shared: bool, level: OptLevel, n: usize) {
    let engine = Engine::new().expect("engine");
    // Warm-up: the thread's target machines, the signature's trampoline, and (for
    // the shared engine) the engine itself.
    let warm = tenant(&engine, level, 0);
    let mut kept = vec![warm];
    let before = rss_kib();
    let start = Instant::now();
    for i in 0..n as i64 {
        let engine = if shared { engine.clone() } else { Engine::new().expect("engine") };
        kept.push(tenant(&engine, level, i));
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let kib = (rss_kib() - before) as f64 / n as f64;
    let compile_us: u64 = kept[1..].iter().map(|ns| ns.stats().irgen_us + ns.stats().compile_us).sum();
    println!("{kib:.1} {us:.0} {:.0}", compile_us as f64 / n as f64);
    drop(kept);
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--child") {
        let shared = args.next().as_deref() == Some("shared");
        let level = if args.next().as_deref() == Some("0") { OptLevel::O0 } else { OptLevel::O2 };
        let n = args.next().and_then(|n| n.parse().ok()).expect("a count");
        return child(shared, level, n);
    }
    let n: usize = std::env::var("ORE_NAMESPACES").ok().and_then(|v| v.parse().ok()).unwrap_or(250);
    println!("{n} namespaces, each created, given `fn f(x: i64) -> i64 {{ x + 1 }}` and called once, all kept alive");
    println!("{:<30} {:>16} {:>17} {:>17}", "", "RSS / namespace", "time / namespace", "of which compile");
    let ways = [
        ("one engine (ore serve)", "shared", "2"),
        ("an engine per namespace", "own", "2"),
        ("one engine, -O0", "shared", "0"),
        ("an engine per namespace, -O0", "own", "0"),
    ];
    for (label, mode, level) in ways {
        let exe = std::env::current_exe().expect("this bench's path");
        let out = Command::new(exe).args(["--child", mode, level, &n.to_string()]).output().expect("child runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.split_whitespace();
        let mut next = || fields.next().unwrap_or("?");
        let (kib, us, compile) = (next(), next(), next());
        println!("{label:<30} {kib:>12} KiB {us:>14} us {compile:>14} us");
    }
}
