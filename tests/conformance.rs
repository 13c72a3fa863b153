//! Runs every `tests/conformance/*.ore` program through `ore run` and compares with
//! the expectations written in the file itself:
//!
//! ```text
//! // args: 3 4          arguments for main
//! // exit: 2            expected exit status (default 0)
//! // stderr: text       a line that standard error must contain (repeatable)
//! //> line              an expected line of standard output (all of stdout must match)
//! ```
//!
//! Each program runs lazily at the default -O2, eagerly (`--eager`), and lazily at
//! -O0, -O1 and -O3, with deadline checks (`--timeout`), with debug info (`-g`,
//! at -O0 and -O2), and tiered: every mode must produce exactly the expected result. Programs that must not compile run once.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `--timeout` compiles deadline checks into every function and loop; a generous
/// deadline must change nothing.
///
/// `--tier auto --hot-calls 1` runs every function without loops at tier 0 first
/// and asks for its top tier at its first call, so calls switch tiers while the
/// program runs.
const MODES: &[&[&str]] = &[
    &[],
    &["--eager"],
    &["-O0"],
    &["-O1"],
    &["-O3"],
    &["--timeout", "600000"],
    &["-g", "-O0"],
    &["-g"],
    &["--tier", "auto", "--hot-calls", "1"],
];

struct Expectation {
    args: Vec<String>,
    exit: i32,
    stdout: String,
    stderr: Vec<String>,
}

fn parse_expectation(source: &str) -> Expectation {
    let mut e = Expectation { args: Vec::new(), exit: 0, stdout: String::new(), stderr: Vec::new() };
    for line in source.lines() {
        let line = line.trim_start();
        if let Some(out) = line.strip_prefix("//>") {
            e.stdout.push_str(out.strip_prefix(' ').unwrap_or(out));
            e.stdout.push('\n');
        } else if let Some(args) = line.strip_prefix("// args:") {
            e.args = args.split_whitespace().map(String::from).collect();
        } else if let Some(code) = line.strip_prefix("// exit:") {
            e.exit = code.trim().parse().expect("exit code");
        } else if let Some(text) = line.strip_prefix("// stderr:") {
            e.stderr.push(text.trim().to_string());
        }
    }
    e
}

fn run_case(dir: &Path, file: &str) -> Result<(), Failed> {
    let source = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
    let expected = parse_expectation(&source);
    // A compile error cannot depend on how the code would run: check it once.
    let modes = if expected.exit == 1 { &MODES[..1] } else { MODES };
    for mode in modes {
        let output = Command::new(env!("CARGO_BIN_EXE_ore"))
            .current_dir(dir)
            .arg("run")
            .args(*mode)
            .arg(file)
            .args(&expected.args)
            .output()
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code().unwrap_or(-1);
        let mode = if mode.is_empty() { "lazy -O2".to_string() } else { mode.join(" ") };
        if code != expected.exit {
            return Err(format!("[{mode}] exit status {code}, expected {}\nstderr:\n{stderr}", expected.exit).into());
        }
        if stdout != expected.stdout {
            return Err(format!("[{mode}] stdout differs\n--- expected\n{}--- actual\n{stdout}", expected.stdout).into());
        }
        for want in &expected.stderr {
            if !stderr.contains(want.as_str()) {
                return Err(format!("[{mode}] stderr lacks `{want}`\nstderr:\n{stderr}").into());
            }
        }
        if expected.stderr.is_empty() && expected.exit == 0 && !stderr.is_empty() {
            return Err(format!("[{mode}] unexpected stderr:\n{stderr}").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/conformance exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".ore"))
        .collect();
    files.sort();
    assert!(files.len() > 40, "the conformance suite went missing");
    let trials = files
        .into_iter()
        .map(|file| {
            let dir = dir.clone();
            Trial::test(file.trim_end_matches(".ore").to_string(), move || run_case(&dir, &file))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
