//! Bad input never crashes: mutated versions of the conformance programs go through
//! the parser and checker, and those that still check are compiled (eagerly) so
//! code generation and LLVM see unusual but valid programs too, and run (in a
//! subprocess, under a deadline) so the runtime sees them. Any panic, abort or
//! signal fails the test; compile and runtime errors are the expected outcomes.

mod common;

use common::rng::Rng;
use ore::{Config, Namespace, SourceFile};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    ",",
    "-",
    "!",
    "as f64",
    "as i64",
    " / 0",
    "return",
    "break",
    "while true {",
    "if",
    "else",
    "let x = ",
    "var y = ",
    "0",
    "-9223372036854775808",
    "1e308",
    "\"s\"",
    "true",
    "[0; 3]",
    "f(",
    "main",
    "print(",
    "load(\"",
    "py_call_i64(\"len\", ",
    "fn g() -> i64 { 1 }",
    "fn",
    "extern fn",
    "->",
    "i64",
    "[f64]",
    "()",
];

fn mutate(source: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    for _ in 0..1 + rng.index(4) {
        let at = rng.index(chars.len() + 1);
        match rng.index(3) {
            0 if at < chars.len() => {
                let len = 1 + rng.index(8).min(chars.len() - at);
                chars.drain(at..(at + len).min(chars.len()));
            }
            1 => {
                let fragment = FRAGMENTS[rng.index(FRAGMENTS.len())];
                chars.splice(at..at, fragment.chars());
            }
            _ => {
                // Move a slice elsewhere: swaps statements, splits tokens.
                if chars.len() > 2 {
                    let from = rng.index(chars.len() - 1);
                    let piece: Vec<char> = chars.drain(from..(from + 1 + rng.index(12)).min(chars.len())).collect();
                    let to = rng.index(chars.len() + 1);
                    chars.splice(to..to, piece);
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// The conformance and checker programs, by file name; with `python`, those using
/// Python too.
fn conformance_sources(python: bool) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let entries = ["tests/conformance", "tests/check"].into_iter().flat_map(|d| std::fs::read_dir(root.join(d)).expect("test programs"));
    let mut sources: Vec<(String, String)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "ore"))
        .filter(|e| python || !e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    sources.sort();
    sources
}

#[test]
fn mutated_programs_never_crash_the_compiler() {
    // Python programs are excluded: checking them does not run Python, but
    // compiling them would start it in this test process for nothing.
    let sources = conformance_sources(false);
    let mut rng = Rng::new(0x0DDB_1A5E_5BAD_5EED);
    let (mut checked, mut compiled) = (0, 0);
    for (name, source) in &sources {
        let mut engine = Namespace::new(Config { eager: true, ..Config::default() }).expect("engine");
        for round in 0..100 {
            let mutant = mutate(source, &mut rng);
            let file = SourceFile::new(name, mutant.clone());
            let outcome = catch_unwind(AssertUnwindSafe(|| ore::check_program(&file)));
            let Ok(result) = outcome else {
                panic!("the checker panicked on mutant {round} of {name}:\n{mutant}");
            };
            checked += 1;
            if result.is_ok() {
                let compile = catch_unwind(AssertUnwindSafe(|| engine.add_module(name, &mutant)));
                assert!(compile.is_ok(), "compiling panicked on mutant {round} of {name}:\n{mutant}");
                if compile.unwrap().is_ok() {
                    compiled += 1;
                    // A fresh namespace, so the next mutant's signatures cannot clash.
                    engine = Namespace::new(Config { eager: true, ..Config::default() }).expect("engine");
                }
            }
        }
    }
    eprintln!("{checked} mutants checked, {compiled} compiled");
    assert!(compiled > 500, "too few mutants compile ({compiled}) for this test to mean much");
}

/// Exit statuses `ore run` may end with on any input: success, compile error,
/// runtime error (a timeout included), usage error.
const CLEAN_EXITS: [i32; 4] = [0, 1, 2, 64];

#[test]
fn mutated_programs_that_check_run_without_crashing() {
    let sources = conformance_sources(true);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_F0DD_BA11);
    // A few checked mutants of every program, run two at a time.
    let mut runs = Vec::new();
    for (name, source) in &sources {
        let mut found = 0;
        for _ in 0..40 {
            let mutant = mutate(source, &mut rng);
            if found < 3 && ore::check_program(&SourceFile::new(name, mutant.clone())).is_ok() {
                let path = dir.path().join(format!("{}-{found}.ore", name.trim_end_matches(".ore")));
                std::fs::write(&path, &mutant).unwrap();
                runs.push((path, mutant));
                found += 1;
            }
        }
    }
    let (a, b) = runs.split_at(runs.len() / 2);
    std::thread::scope(|scope| {
        for half in [a, b] {
            scope.spawn(move || {
                for (path, mutant) in half {
                    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ore"))
                        .args(["run", "--timeout", "300"])
                        .arg(path)
                        .stdin(std::process::Stdio::null())
                        .output()
                        .unwrap();
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let clean = out.status.code().is_some_and(|c| CLEAN_EXITS.contains(&c)) && !stderr.contains("panicked");
                    assert!(clean, "{}: {:?}\n{stderr}\n{mutant}", path.display(), out.status);
                }
            });
        }
    });
    eprintln!("{} checked mutants run", runs.len());
    assert!(runs.len() > 150, "too few mutants check ({}) for this test to mean much", runs.len());
}
