//! Section 7's in-process rows: many compiled functions in one process (the
//! suite's own), with what they cost in RSS, mappings and code memory.

use super::{Report, Suite};
use ore::{Config, Engine, OptLevel, Value};
use std::time::Instant;

/// `n` one-line functions, all called, through callers of 500 each.
fn chunked(n: usize) -> String {
    let mut s: String = (0..n).map(|i| format!("fn f{i}(x: i64) -> i64 {{ x * {} + 1 }}\n", i % 13)).collect();
    for c in 0..n / 500 {
        s.push_str(&format!("fn c{c}() -> i64 {{ var s = 0;"));
        s.extend((c * 500..(c + 1) * 500).map(|i| format!(" s = s + f{i}({i});")));
        s.push_str(" s }\n");
    }
    s.push_str("fn main() -> i64 { var s = 0;");
    s.extend((0..n / 500).map(|c| format!(" s = s + c{c}();")));
    s.push_str(" s }\n");
    s
}

fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
}

pub(super) fn many_functions(suite: &Suite, report: &mut Report) {
    let n = if suite.quick { 20_000 } else { 200_000 };
    let engine = Engine::new().unwrap();
    let ns = engine.namespace(Config { opt_level: OptLevel::O0, ..Config::default() }).unwrap();
    ns.add_module("many", &chunked(n)).unwrap();
    let (rss_before, maps_before, started) = (rss_kib(), mappings(), Instant::now());
    let result = ns.call("main", &[]).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(result, Value::I64((0..n as i64).map(|i| i * (i % 13) + 1).sum()));
    let compiled = ns.stats().compiled;
    let per_function = (rss_kib() - rss_before) / compiled as f64;
    let added = mappings() - maps_before;
    let code = engine.code_memory_in_use().unwrap_or(0) as f64 / compiled as f64;
    let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count").map(|s| s.trim().to_string()).unwrap_or_default();
    report.line(format!(
        "In one process (this suite's, in-process API): a module of {n} one-line functions and {} callers, all \
         called once at -O0: {compiled} functions compiled in {elapsed:.1} s; RSS grew by **{per_function:.2} KiB per \
         compiled function** ({:.0} MiB in all, after parsing and checking); **{added} mappings** were added \
         (`vm.max_map_count` is {max_map_count}); the code and data themselves take {code:.0} bytes per function \
         (`Engine::code_memory_in_use`). LLVM's own memory manager, before this stop, mapped each allocation \
         separately: about 8.7 KiB per function and two or more mappings each, so a process reached \
         `vm.max_map_count` near 30,000 functions.",
        n / 500,
        (rss_kib() - rss_before) / 1024.0
    ));
    report.line("");
    report.goal("a small compiled function costs ≤ 4 KiB RSS", per_function <= 4.0, format!("{per_function:.2} KiB"));
    if !suite.quick {
        report.goal(
            "200,000 compiled functions in one process, within vm.max_map_count",
            compiled >= 200_000 && added < 1000,
            format!("{compiled} compiled, {added} mappings added"),
        );
    }
}
