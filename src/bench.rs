//! `ore bench FILE`: where the first call of each function a program reaches spends
//! its time (IR generation, optimisation, code generation, linking), over fresh
//! engines, with the program's own output silenced; with `--runs N`, how long
//! `main` takes once warm and how long it took to get there (tiers).

use crate::status;
use ore::{output, CompileRecord, Namespace, SourceFile, Value};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;

pub struct BenchOptions {
    pub opt: u8,
    /// `--tier auto` (for the report: the namespaces `fresh` makes are tiered).
    pub tiered: bool,
    pub repeat: usize,
    /// Calls of `main` per engine.
    pub runs: usize,
    pub json: bool,
    /// How `main` is called (its timeout).
    pub call: ore::CallOptions,
}

/// One function's samples over all repeats.
#[derive(serde::Serialize)]
struct Row {
    function: String,
    samples: usize,
    total_us: Summary,
    irgen_us: Summary,
    optimize_us: Summary,
    codegen_us: Summary,
    link_us: Summary,
}

#[derive(serde::Serialize, Clone, Copy)]
struct Summary {
    min: u64,
    median: u64,
    p99: u64,
}

fn summarize(mut values: Vec<u64>) -> Summary {
    values.sort_unstable();
    let p99 = values[((values.len() as f64 * 0.99).ceil() as usize).clamp(1, values.len()) - 1];
    Summary { min: values[0], median: values[values.len() / 2], p99 }
}

#[derive(serde::Serialize)]
struct Report {
    file: String,
    opt_level: u8,
    tier: &'static str,
    repeats: usize,
    runs: usize,
    /// Adding the program and running `main` to its result, per fresh engine.
    time_to_result_us: Summary,
    /// With several runs: per engine, the median run of the later half.
    steady_run_us: Option<Summary>,
    /// With several runs: per engine, from adding the program to the end of the
    /// first run within 10% of its steady run time.
    time_to_steady_us: Option<Summary>,
    functions: Vec<Row>,
}

/// A steady run time (the median of the later half of `runs`) and the time from
/// `start_us` to the end of the first run within 10% of it.
fn steady(start_us: u64, runs: &[u64]) -> (u64, u64) {
    let mut later = runs[runs.len() / 2..].to_vec();
    later.sort_unstable();
    let steady = later[later.len() / 2];
    let first = runs.iter().position(|&r| r * 10 <= steady * 11).unwrap_or(runs.len() - 1);
    (steady, start_us + runs[..=first].iter().sum::<u64>())
}

/// Runs `f` with the process's standard output sent to /dev/null.
fn silenced<T>(f: impl FnOnce() -> T) -> T {
    output::flush();
    // SAFETY: plain file-descriptor juggling on fd 1, restored before returning.
    let saved = unsafe {
        let saved = libc::dup(1);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if saved >= 0 && null >= 0 {
            libc::dup2(null, 1);
            libc::close(null);
        }
        saved
    };
    let result = f();
    output::flush();
    if saved >= 0 {
        // SAFETY: restores the descriptor saved above.
        unsafe {
            libc::dup2(saved, 1);
            libc::close(saved);
        }
    }
    result
}

/// Runs the program in `options.repeat` namespaces that `fresh` makes; fails with
/// the exit status and the message to print.
pub fn run(
    file: &SourceFile,
    main_args: &[Value],
    options: &BenchOptions,
    fresh: impl Fn() -> Result<Namespace, (u8, String)>,
) -> Result<(), (u8, String)> {
    let progress = if options.repeat > 1 && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(options.repeat as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut results = Vec::with_capacity(options.repeat);
    let (mut steady_runs, mut to_steady) = (Vec::new(), Vec::new());
    let mut per_function: HashMap<String, Vec<CompileRecord>> = HashMap::new();
    let mut order = Vec::new();
    for _ in 0..options.repeat {
        let engine = fresh()?;
        let start = Instant::now();
        let source = SourceFile::new(file.name(), file.text().to_string());
        engine.add_program(source).map_err(|e| status::of_error(&e))?;
        let added_us = start.elapsed().as_micros() as u64;
        let mut runs = Vec::with_capacity(options.runs);
        for _ in 0..options.runs {
            let run = Instant::now();
            silenced(|| engine.call_with("main", main_args, &options.call).result).map_err(|e| status::of_error(&e))?;
            runs.push(run.elapsed().as_micros() as u64);
        }
        results.push(added_us + runs[0]);
        if options.runs > 1 {
            let (run, reached) = steady(added_us, &runs);
            steady_runs.push(run);
            to_steady.push(reached);
        }
        for record in engine.compile_records() {
            if !per_function.contains_key(&record.function) {
                order.push(record.function.clone());
            }
            per_function.entry(record.function.clone()).or_default().push(record);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let functions = order
        .into_iter()
        .map(|name| {
            let records = &per_function[&name];
            let field = |f: fn(&CompileRecord) -> u64| summarize(records.iter().map(f).collect());
            Row {
                function: name.clone(),
                samples: records.len(),
                total_us: field(CompileRecord::total_us),
                irgen_us: field(|r| r.irgen_us),
                optimize_us: field(|r| r.optimize_us),
                codegen_us: field(|r| r.codegen_us),
                link_us: field(|r| r.link_us),
            }
        })
        .collect();
    let report = Report {
        file: file.name().to_string(),
        opt_level: options.opt,
        tier: if options.tiered { "auto" } else { "fixed" },
        repeats: options.repeat,
        runs: options.runs,
        time_to_result_us: summarize(results),
        steady_run_us: (options.runs > 1).then(|| summarize(steady_runs)),
        time_to_steady_us: (options.runs > 1).then(|| summarize(to_steady)),
        functions,
    };
    if options.json {
        println!("{}", serde_json::to_string(&report).expect("report serialises"));
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(report: &Report) {
    let t = report.time_to_result_us;
    let tier = if report.tier == "auto" { ", tiered" } else { "" };
    println!(
        "{} at -O{}{tier}, {} fresh engine(s): time to result min {} / median {} / p99 {} us",
        report.file, report.opt_level, report.repeats, t.min, t.median, t.p99
    );
    if let (Some(run), Some(reached)) = (report.steady_run_us, report.time_to_steady_us) {
        println!(
            "{} runs each: steady run min {} / median {} us, reached after min {} / median {} us",
            report.runs, run.min, run.median, reached.min, reached.median
        );
    }
    println!("first-call compile time per function, microseconds (medians; total also min and p99):");
    println!("{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}", "function", "total", "min", "p99", "irgen", "optimize", "codegen", "link");
    for r in &report.functions {
        println!(
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            r.function,
            r.total_us.median,
            r.total_us.min,
            r.total_us.p99,
            r.irgen_us.median,
            r.optimize_us.median,
            r.codegen_us.median,
            r.link_us.median
        );
    }
}
