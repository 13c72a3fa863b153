//! `ore bench FILE`: where the first call of each function a program reaches spends
//! its time (IR generation, optimisation, code generation, linking), over fresh
//! engines, with the program's own output silenced.

use crate::status;
use ore::{output, CompileRecord, Namespace, SourceFile, Value};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;

pub struct BenchOptions {
    pub opt: u8,
    pub repeat: usize,
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
    repeats: usize,
    /// Adding the program and running `main` to its result, per fresh engine.
    time_to_result_us: Summary,
    functions: Vec<Row>,
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
    let mut per_function: HashMap<String, Vec<CompileRecord>> = HashMap::new();
    let mut order = Vec::new();
    for _ in 0..options.repeat {
        let engine = fresh()?;
        let start = Instant::now();
        let source = SourceFile::new(file.name(), file.text().to_string());
        engine.add_program(source).map_err(|e| status::of_error(&e))?;
        silenced(|| engine.call_with("main", main_args, &options.call).result).map_err(|e| status::of_error(&e))?;
        results.push(start.elapsed().as_micros() as u64);
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
        repeats: options.repeat,
        time_to_result_us: summarize(results),
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
    println!(
        "{} at -O{}, {} fresh engine(s): time to result min {} / median {} / p99 {} us",
        report.file, report.opt_level, report.repeats, t.min, t.median, t.p99
    );
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
