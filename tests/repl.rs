//! `ore repl`: a scripted session through piped standard input (definitions,
//! redefinition, expressions with their types, multi-line entries, commands, and
//! errors that leave the session going), and line editing and history through a
//! pseudo-terminal.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn repl(input: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ore"))
        .arg("repl")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ore repl");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_piped_session_defines_redefines_evaluates_and_survives_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lib.ore");
    std::fs::write(&file, "fn from_file(x: i64) -> i64 { sq(x) + 1 }\n").unwrap();
    let session = format!(
        "fn sq(x: i64) -> i64 {{ x * x }}
sq(7)
fn sq(x: i64) -> i64 {{
    x * x * x
}}
sq(2)
print(\"side effect\")
\"hi\"
[1.5; 2]
1 + true
let v = [1; 2]; v[5]
let kept = 3;
:functions
:asm nope
:load {}
from_file(2)
:ir sq
:quit
sq(1)
",
        file.display()
    );
    let out = repl(&session, &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = "\
sq: fn(i64) -> i64
49 : i64
sq: fn(i64) -> i64
8 : i64
side effect
\"hi\" : str
[1.5, 1.5] : [f64]
(a `let` lasts for its own entry; a function keeps a value: `fn a() -> i64 { ... }`)
sq: fn(i64) -> i64 (compiled)
loaded 1 function(s) from ";
    assert!(stdout.starts_with(expected), "{stdout}");
    let rest = &stdout[expected.len()..];
    // The loaded function calls the redefined sq.
    assert!(rest.starts_with(&format!("{}\n9 : i64\n; ModuleID", file.display())), "{rest}");
    assert!(rest.contains("define i64 @ore.sq(") && rest.contains("mul i64"), ":ir prints sq's IR: {rest}");
    assert!(!rest.contains("__ore_eval") && !rest.contains("\n1 : i64"), "nothing after :quit runs: {rest}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected_errors = [
        "REPL[8]:1:1: error: operator `+` takes two `i64` or two `f64`, not `i64` and `bool`\n1 | 1 + true\n  | ^^^^^^^^",
        "runtime error: index out of bounds: index 5, length 2\n  at <input> (REPL[9]:1:17)",
        "error: no function named `nope`",
    ];
    for e in expected_errors {
        assert!(stderr.contains(e), "stderr lacks {e:?}:\n{stderr}");
    }
}

#[test]
fn a_terminal_session_edits_lines_and_keeps_history() {
    if Command::new("script").arg("--version").output().is_err() {
        return eprintln!("skipped: no `script` to make a pseudo-terminal");
    }
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    // Keys as a terminal sends them, with pauses so each line meets its prompt:
    // up-arrow recalls `sq(7)`, two backspaces leave `sq(`, and `8)` completes it.
    let keys = "sleep 1; printf 'fn sq(x: i64) -> i64 { x * x }\\r'; sleep 0.5; printf 'sq(7)\\r'; sleep 0.5; \
                printf '\\033[A'; sleep 0.3; printf '\\177\\1778)\\r'; sleep 0.5; printf '\\004'; sleep 0.5";
    let script = format!("({keys}) | script -qfec '{} repl' /dev/null", env!("CARGO_BIN_EXE_ore"));
    let out = Command::new("sh").arg("-c").arg(&script).env("ORE_HISTORY", &history).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    for line in ["sq: fn(i64) -> i64\n", "49 : i64\n", "64 : i64\n"] {
        assert!(shown.contains(line), "the terminal shows {line:?}:\n{shown:?}");
    }
    let saved = std::fs::read_to_string(&history).expect("history saved on exit");
    assert!(saved.ends_with("sq(7)\nsq(8)\n"), "{saved:?}");
}
