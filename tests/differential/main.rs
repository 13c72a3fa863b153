//! Differential testing: seeded random programs (`gen.rs`) run through the
//! reference interpreter (`ore::reference`) and through the JIT lazily at -O2,
//! eagerly, at -O0 and -O3, with deadline checks compiled in, and tiered (each
//! function's first call at tier 0, later ones at the top tier); stdout,
//! `main`'s result and the runtime error must agree everywhere. Saved regression cases
//! (`tests/differential/cases/*.ore`, written by `scripts/fuzz.sh`) run in every
//! mode.
//!
//! Compiling dominates the cost, so by default each generated program runs lazily
//! at -O2 and in one other mode, taken in turn (every mode gets a fifth of the
//! programs); `ORE_FUZZ_ALL_MODES=1` runs each in all six. `ORE_FUZZ_PROGRAMS=N`
//! changes how many programs run (default 1,000); `ORE_FUZZ_SEED=S` where the
//! seeds start; `ORE_FUZZ_SAVE=DIR` saves each mismatching program there.

#[path = "../common/mod.rs"]
mod common;
mod gen;

use ore::reference::{self, Outcome};
use ore::{CallOptions, Config, Error, Namespace, OptLevel, SourceFile, Tiering, Value};
use std::path::Path;
use std::time::Duration;

struct Mode {
    name: &'static str,
    config: Config,
    timeout: Option<Duration>,
}

/// Each function without loops at tier 0 for its first call, which compiles its
/// top tier on the spot (no background thread): every later call runs that.
fn tiered() -> Config {
    Config { tiering: Some(Tiering { hot_calls: 1, threads: 0 }), ..Config::default() }
}

fn modes() -> Vec<Mode> {
    let at = |level| Config { opt_level: level, ..Config::default() };
    vec![
        Mode { name: "lazy -O2", config: Config::default(), timeout: None },
        Mode { name: "eager", config: Config { eager: true, ..Config::default() }, timeout: None },
        Mode { name: "lazy -O0", config: at(OptLevel::O0), timeout: None },
        Mode { name: "lazy -O3", config: at(OptLevel::O3), timeout: None },
        Mode {
            name: "deadline checks",
            config: Config { interruptible: true, ..Config::default() },
            timeout: Some(Duration::from_secs(60)),
        },
        Mode { name: "tiered", config: tiered(), timeout: None },
    ]
}

fn run_jit(source: &str, mode: &Mode) -> Result<Outcome, String> {
    let engine = Namespace::new(mode.config.clone()).map_err(|e| e.to_string())?;
    engine.add_program(SourceFile::new("gen.ore", source.to_string())).map_err(|e| e.to_string())?;
    let options = CallOptions { timeout: mode.timeout, capture_output: Some(1 << 20), ..CallOptions::default() };
    let report = engine.call_with("main", &[], &options);
    let captured = report.output.expect("captured");
    let mut stdout = String::from_utf8_lossy(&captured.stdout).into_owned();
    let error = match report.result {
        Ok(Value::Unit) => None,
        Ok(v) => {
            stdout.push_str(&format!("{v}\n"));
            None
        }
        Err(Error::Runtime { error: e, .. }) => Some(e.to_string()),
        Err(other) => Some(format!("not a runtime error: {other}")),
    };
    Ok(Outcome { stdout, error })
}

/// Runs one program in the interpreter and in `modes`; `Err` describes the first
/// disagreement.
fn differ(source: &str, modes: &[Mode]) -> Result<Outcome, String> {
    let expected = reference::run("gen.ore", source).map_err(|e| format!("the program does not compile:\n{e}"))?;
    for mode in modes {
        let actual = run_jit(source, mode).map_err(|e| format!("[{}] {e}", mode.name))?;
        if actual != expected {
            return Err(format!("[{}] differs from the reference interpreter\nexpected: {expected:?}\nactual:   {actual:?}", mode.name));
        }
    }
    Ok(expected)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `work` on a thread with room for deep recursion in the interpreter and the JIT.
fn with_big_stack<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(256 << 20).spawn(work).unwrap().join().unwrap()
}

/// A program that disagreed: its seed, its source, and how.
type Failure = (u64, String, String);

#[test]
fn generated_programs_agree_with_the_reference_interpreter() {
    let count = env_number("ORE_FUZZ_PROGRAMS", 1000);
    let first = env_number("ORE_FUZZ_SEED", 0);
    let save = std::env::var("ORE_FUZZ_SAVE").ok();
    let all_modes = env_number("ORE_FUZZ_ALL_MODES", 0) == 1;
    let workers = 2;
    let results: Vec<(Vec<Failure>, Vec<String>)> = (0..workers)
        .map(|w| {
            std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn(move || {
                    let mut failures = Vec::new();
                    let mut endings = Vec::new();
                    for seed in (first + w..first + count).step_by(workers as usize) {
                        let source = gen::Generator::new(seed).program();
                        let mut modes = modes();
                        if !all_modes {
                            let other = modes.remove(1 + (seed % 5) as usize);
                            modes.truncate(1);
                            modes.push(other);
                        }
                        match differ(&source, &modes) {
                            // What ended the program: the error's kind, or nothing.
                            Ok(o) => endings
                                .push(o.error.map_or("no error".into(), |e| e.split([':', ' ']).take(2).collect::<Vec<_>>().join(" "))),
                            Err(why) => failures.push((seed, source, why)),
                        }
                    }
                    (failures, endings)
                })
                .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let failures: Vec<_> = results.iter().flat_map(|(f, _)| f.clone()).collect();
    let mut endings = std::collections::BTreeMap::<&str, usize>::new();
    for e in results.iter().flat_map(|(_, e)| e) {
        *endings.entry(e.as_str()).or_default() += 1;
    }
    if let Some(dir) = &save {
        for (seed, source, why) in &failures {
            let text = format!("// seed {seed}: {}\n{source}", why.lines().next().unwrap_or(""));
            std::fs::write(Path::new(dir).join(format!("seed-{seed}.ore")), text).unwrap();
        }
    }
    eprintln!("{count} programs from seed {first}, {} mismatches; endings: {endings:?}", failures.len());
    if let Some((seed, source, why)) = failures.first() {
        panic!("{} of {count} programs disagree; the first, seed {seed}:\n{source}\n{why}", failures.len());
    }
}

#[test]
fn saved_regression_cases_agree_with_the_reference_interpreter() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/cases");
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    for case in cases {
        let source = std::fs::read_to_string(&case).unwrap();
        let name = case.display().to_string();
        with_big_stack(move || differ(&source, &modes()).unwrap_or_else(|why| panic!("{name}: {why}")));
    }
}

#[test]
#[ignore]
fn print_a_program() {
    let seed = env_number("ORE_FUZZ_SEED", 0);
    println!("{}", gen::Generator::new(seed).program());
}
