//! `ore run -g`: gdb sees Ore code through the GDB JIT interface, with DWARF:
//! a breakpoint on an Ore function by name hits, `bt` shows Ore frames with
//! file:line and arguments and goes on into the host, and `info locals` shows a local. Skipped where gdb is
//! not installed.

use std::process::Command;

/// gdb's batch output for `ore run ARGS FILE`, with `commands` after `run`.
fn gdb(ore_args: &[&str], env: &[(&str, &str)], commands: &[&str]) -> Option<String> {
    Command::new("gdb").arg("--version").output().ok()?;
    let mut gdb = Command::new("gdb");
    gdb.args(["-batch", "-nx", "-ex", "set breakpoint pending on", "-ex", "set debuginfod enabled off", "-ex", "break fib", "-ex", "run"]);
    for c in commands {
        gdb.args(["-ex", c]);
    }
    gdb.arg("--args").arg(env!("CARGO_BIN_EXE_ore")).arg("run").args(ore_args).envs(env.iter().copied());
    let out = gdb.output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

const PROGRAM: &str = "fn fib(n: i64) -> i64 {
    let small = n < 2;
    if small { return n; }
    fib(n - 1) + fib(n - 2)
}

fn main() -> i64 {
    let x = 10;
    fib(x)
}
";

#[test]
fn gdb_breaks_on_an_ore_function_and_shows_frames_and_locals() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fib.ore");
    std::fs::write(&file, PROGRAM).unwrap();
    let path = file.to_str().unwrap();
    let Some(out) = gdb(&["-g", "-O0", path], &[], &["bt 2", "next", "info locals", "continue", "bt 3", "bt 12"]) else {
        return eprintln!("skipped: no gdb");
    };
    for expected in [
        format!("hit Breakpoint 1, fib (n=10) at {path}:1"),
        "#1  0x".to_string(),
        format!(" in main () at {path}:9"),
        "2\t    let small = n < 2;".to_string(),
        "small = ".to_string(),
        format!("hit Breakpoint 1, fib (n=9) at {path}:1"),
        format!(" in fib (n=10) at {path}:4"),
        // The entry trampoline keeps a frame pointer: the walk goes on into the host.
        " in ore::runtime::HostCall::invoke ".to_string(),
    ] {
        assert!(out.contains(&expected), "gdb's output lacks {expected:?}:\n{out}");
    }
    // ORE_DEBUG=1 does what -g does; without either, gdb knows no `fib`.
    let with_env = gdb(&["-O0", path], &[("ORE_DEBUG", "1")], &["bt 1"]).unwrap();
    assert!(with_env.contains(&format!("fib (n=10) at {path}:1")), "{with_env}");
    let without = gdb(&["-O0", path], &[], &[]).unwrap();
    assert!(!without.contains("hit Breakpoint") && without.contains("55"), "{without}");
}
