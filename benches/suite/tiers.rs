//! Section 12: tiered compilation against fixed levels: first calls, time to
//! first result, steady state, and the hot threshold.

use super::cache::all_called;
use super::{run, spread, time, Report, Spread, Suite, PROGRAMS};
use ore::{Config, Namespace, OptLevel, Tiering};
use std::path::Path;
use std::time::Instant;

/// `ore bench --json` of `file` with `flags`: (time to result, steady run) in µs.
fn bench(suite: &Suite, flags: &[&str], file: &Path, args: &[&str], repeats: usize, runs: usize) -> (Spread, Option<Spread>) {
    let (repeats, runs) = (repeats.to_string(), runs.to_string());
    let mut all = vec!["bench", "--json", "--repeat", &repeats, "--runs", &runs];
    all.extend_from_slice(flags);
    all.push(file.to_str().unwrap());
    all.extend_from_slice(args);
    let out = run(&suite.ore, &all);
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let summary = |v: &serde_json::Value| {
        let at = |k: &str| v[k].as_f64().unwrap();
        Spread { min: at("min"), median: at("median"), max: at("p99"), p99: at("p99") }
    };
    let steady = Some(&report["steady_run_us"]).filter(|v| !v.is_null()).map(summary);
    (summary(&report["time_to_result_us"]), steady)
}

/// First call of a trivial function in fresh namespaces (as section 1 measures it).
fn first_call(config: impl Fn() -> Config, repeats: usize) -> Spread {
    let mut walls = Vec::new();
    for i in 0..=repeats {
        let ns = Namespace::new(config()).unwrap();
        ns.add_module("m", "fn f() -> i64 { 1 }").unwrap();
        let t = Instant::now();
        ns.call("f", &[]).unwrap();
        if i > 0 {
            walls.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    spread(walls)
}

const AUTO: &[&str] = &["--tier", "auto"];

pub(super) fn tiers(suite: &Suite, report: &mut Report) {
    let repeats = suite.repeats(21);
    report.line("## 12. Tiers");
    report.line("");
    report.line(
        "`--tier auto` (`Config::tiering`) compiles every function at -O0 first (tier 0, counting calls and loop \
         iterations) and at -O2 in the background once the count reaches 1,000, moving a call still in a loop \
         into the new code at the loop's header (docs/ARCHITECTURE.md, \"Tiers\"). Fixed levels compile each \
         function once, at its first call.",
    );
    report.line("");
    report.line("| workload | -O0 | -O2 | --tier auto | auto / -O2 |");
    report.line("| --- | --- | --- | --- | ---: |");
    let at = |level: u8| move || Config { opt_level: OptLevel::new(level).unwrap(), ..Config::default() };
    let tiered = || Config { tiering: Some(Tiering::default()), ..Config::default() };
    let trivial = [first_call(at(0), repeats), first_call(at(2), repeats), first_call(tiered, repeats)];
    let row = |report: &mut Report, label: &str, s: &[Spread; 3]| {
        let ratio = s[2].median / s[1].median;
        report.line(format!("| {label} | {} | {} | {} | {ratio:.2} |", time(s[0]), time(s[1]), time(s[2])));
        ratio
    };
    row(report, &format!("first call of `fn f() -> i64 {{ 1 }}`, fresh namespace ({repeats} repeats)"), &trivial);
    let o0 = trivial[2].median / trivial[0].median;
    report.goal("tier auto: a trivial function's first call costs what -O0's does (≤ 1.25x)", o0 <= 1.25, format!("{o0:.2}x -O0"));
    let programs = [
        ("`examples/demo.ore`", suite.root.join("examples/demo.ore")),
        ("1,000 functions, each called once", suite.write("tiers_all_called_1000.ore", &all_called(1000))),
    ];
    let results_repeats = suite.repeats(7);
    let mut ratios = Vec::new();
    for (label, file) in &programs {
        let r = |flags: &[&str]| bench(suite, flags, file, &[], results_repeats, 1).0;
        let s = [r(&["-O0"]), r(&["-O2"]), r(AUTO)];
        ratios.push(row(report, &format!("{label}: time to result, `ore bench` ({results_repeats} fresh engines)"), &s));
    }
    report.line("");
    report.goal(
        "tier auto: time to first result ≤ 0.5x of -O2 (demo, 1,000 functions)",
        ratios.iter().all(|&r| r <= 0.5),
        format!("{:.2}, {:.2}", ratios[0], ratios[1]),
    );

    let (repeats, runs) = (suite.repeats(3), 6);
    report.line(format!(
        "**Steady state per policy.** `ore bench --repeat {repeats} --runs {runs}`: `main` called {runs} times in \
         each fresh engine; *steady* is the median of the later half of the runs (medians over engines), *reached* \
         the time from adding the program to the end of the first run within 10% of it; the ratio compares the \
         fastest engines' steady times (as section 3 does, for the same reason). Against gcc: section 3."
    ));
    report.line("");
    report.line("| program | first result -O2 | first result auto | steady -O2 | steady auto | auto / -O2 steady |");
    report.line("| --- | --- | --- | --- | --- | ---: |");
    let mut worst: (f64, &str) = (0.0, "");
    for p in PROGRAMS {
        let file = suite.program(&format!("{}.ore", p.name));
        let (first_o2, steady_o2) = bench(suite, &["-O2"], &file, p.args, repeats, runs);
        let (first_auto, steady_auto) = bench(suite, AUTO, &file, p.args, repeats, runs);
        let (steady_o2, steady_auto) = (steady_o2.unwrap(), steady_auto.unwrap());
        let ratio = steady_auto.min / steady_o2.min;
        if ratio > worst.0 {
            worst = (ratio, p.name);
        }
        report.line(format!(
            "| {} | {} | {} | {} | {} | {ratio:.3} |",
            p.name,
            time(first_o2),
            time(first_auto),
            time(steady_o2),
            time(steady_auto)
        ));
    }
    report.line("");
    report.goal(
        "tier auto: steady state within 3% of -O2 on every benchmark",
        worst.0 <= 1.03,
        format!("worst {:.3} ({})", worst.0, worst.1),
    );

    report.line(
        "**The threshold.** `ore run --stats --tier auto --hot-calls N`, wall time to result (process start \
         included) and how many functions were recompiled:",
    );
    report.line("");
    report.line("| hot calls | demo | tier-ups | 1,000 functions | tier-ups | fib(30) | tier-ups |");
    report.line("| ---: | --- | ---: | --- | ---: | --- | ---: |");
    let threshold_repeats = suite.repeats(5);
    for hot in ["100", "1000", "10000", "100000"] {
        let mut cells = Vec::new();
        for (file, args) in [(&programs[0].1, &[][..]), (&programs[1].1, &[][..]), (&suite.program("fib.ore"), &["30"][..])] {
            let mut walls = Vec::new();
            let mut tier_ups = 0;
            for _ in 0..threshold_repeats {
                let (r, stats) = super::ore_stats(suite, &["--tier", "auto", "--hot-calls", hot], file, args);
                walls.push(r.wall.as_secs_f64() * 1e6);
                tier_ups = stats["tier_ups"].as_u64().unwrap();
            }
            cells.push(format!("{} | {tier_ups}", time(spread(walls))));
        }
        report.line(format!("| {hot} | {} |", cells.join(" | ")));
    }
    report.line("");
}
