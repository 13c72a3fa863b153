//! The `ore` command line: laziness proven by compile counts, statistics, dumps,
//! `ore check`, usage errors, and bad input that must fail cleanly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ore")).args(args).output().expect("run ore")
}

fn ore_env(args: &[&str], key: &str, value: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ore")).args(args).env(key, value).output().expect("run ore")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Program {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Program {
    fn new(source: impl AsRef<[u8]>) -> Program {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("prog.ore");
        std::fs::File::create(&path).and_then(|mut f| f.write_all(source.as_ref())).expect("write program");
        Program { _dir: dir, path }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

/// `--stats` prints one JSON object on the last line of stderr.
fn stats(o: &Output) -> serde_json::Value {
    let err = stderr(o);
    let line = err.lines().last().expect("a stats line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("stats line `{line}` is not JSON: {e}"))
}

/// `count` functions `f0..`, of which `main` calls `f1`, `f2` and `f3`.
fn thousand_functions(count: usize) -> String {
    let mut src = String::new();
    for i in 0..count {
        src.push_str(&format!("fn f{i}(x: i64) -> i64 {{ x * {i} + {} }}\n", i % 7));
    }
    src.push_str("fn main() -> i64 { f1(1) + f2(2) + f3(3) }\n");
    src
}

#[test]
fn lazy_mode_compiles_only_called_functions() {
    let prog = Program::new(thousand_functions(1000));
    let out = ore(&["run", "--stats", prog.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "20\n"); // (1+1) + (4+2) + (9+3)
    let s = stats(&out);
    assert_eq!(s["functions"], 1001);
    assert_eq!(s["compiled"], 4, "main and f1..f3 only: {s}");
    for key in ["parse_us", "check_us", "irgen_us", "compile_us", "run_us"] {
        assert!(s[key].is_u64(), "stats lacks {key}: {s}");
    }
}

#[test]
fn eager_mode_compiles_everything_and_agrees() {
    let prog = Program::new(thousand_functions(200));
    let out = ore(&["run", "--eager", "--stats", prog.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "20\n");
    assert_eq!(stats(&out)["compiled"], 201);
}

#[test]
fn uncalled_function_with_a_runtime_trap_is_never_compiled() {
    let prog = Program::new("fn bad() -> i64 { 1 / 0 }\nfn main() -> i64 { 7 }\n");
    let out = ore(&["run", "--stats", prog.path()]);
    assert_eq!(stdout(&out), "7\n");
    assert_eq!(stats(&out)["compiled"], 1);
}

#[test]
fn emit_ir_dumps_each_compiled_function() {
    let prog = Program::new("fn used() -> i64 { 2 }\nfn unused() -> i64 { 3 }\nfn main() -> i64 { used() }\n");
    let out = ore(&["run", "--emit=ir", "-O1", prog.path()]);
    assert_eq!(stdout(&out), "2\n");
    let err = stderr(&out);
    assert!(err.contains("; ---- used ----"), "{err}");
    assert!(err.contains("define") && err.contains("@ore.used("), "{err}");
    assert!(!err.contains("---- unused"), "an uncalled function was dumped: {err}");
}

#[test]
fn emit_asm_dumps_machine_code() {
    let prog = Program::new("fn main() -> i64 { 40 + 2 }\n");
    let out = ore(&["run", "--emit", "asm", prog.path()]);
    assert_eq!(stdout(&out), "42\n");
    let err = stderr(&out);
    assert!(err.contains("; ---- main ----") && err.contains("ret"), "{err}");
}

#[test]
fn every_opt_level_is_accepted_and_others_are_usage_errors() {
    let prog = Program::new("fn main() -> i64 { 6 * 7 }\n");
    for level in ["-O0", "-O1", "-O2", "-O3"] {
        assert_eq!(stdout(&ore(&["run", level, prog.path()])), "42\n", "{level}");
    }
    let out = ore(&["run", "-O4", prog.path()]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn tracing_logs_phases_and_materializations() {
    let prog = Program::new("fn sq(x: i64) -> i64 { x * x }\nfn main() -> i64 { sq(3) }\n");
    let out = ore_env(&["run", prog.path()], "ORE_LOG", "debug");
    assert_eq!(stdout(&out), "9\n");
    let err = stderr(&out);
    for needle in ["parse", "check", "materialize", "function=sq", "compiled"] {
        assert!(err.contains(needle), "log lacks `{needle}`:\n{err}");
    }
}

#[test]
fn check_reports_errors_without_running() {
    let ok = Program::new("fn main() { print(1); }\n");
    let out = ore(&["check", ok.path()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "", "check must not run the program");
    let bad = Program::new("fn main() {\n  print(nope);\n}\n");
    let out = ore(&["check", bad.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("prog.ore:2:9: error: unknown variable `nope`"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_64() {
    let out = ore(&["run", "/no/such/file.ore"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("cannot read `/no/such/file.ore`"));
    assert_eq!(ore(&["run"]).status.code(), Some(64));
    assert_eq!(ore(&["frobnicate"]).status.code(), Some(64));
    assert_eq!(ore(&["--help"]).status.code(), Some(0));
}

#[test]
fn negative_main_arguments_are_not_flags() {
    let prog = Program::new("fn main(a: i64, b: i64) -> i64 { a - b }\n");
    assert_eq!(stdout(&ore(&["run", prog.path(), "-5", "-7"])), "2\n");
}

#[test]
fn output_stays_in_program_order_through_a_pipe() {
    // Ore's print and C's stdio share one buffer: interleaving survives a pipe.
    let prog =
        Program::new("extern fn puts(s: str) -> i32;\nfn main() { var i = 0; while i < 300 { print(i); puts(\"c\"); i = i + 1; } }\n");
    let out = ore(&["run", prog.path()]);
    let expected: String = (0..300).map(|i| format!("{i}\nc\n")).collect();
    assert_eq!(stdout(&out), expected);
}

#[test]
fn a_run_that_ends_while_a_tier_up_compiles_exits_at_once_with_its_output() {
    // `work` turns hot halfway through its only call, and `main` returns right
    // after it: its top tier is still compiling when `ore` exits, which it does
    // without waiting and without running LLVM's static destructors under the
    // compile (they crashed it before exits waited).
    let prog = Program::new(
        "fn work(n: i64) -> i64 {
    var s = 0;
    var i = 0;
    while i < n { s = (s * 31 + i) % 1000003; i = i + 1; }
    s
}
fn main() { print(work(400)); }
",
    );
    for _ in 0..5 {
        let out = ore(&["run", "--tier", "auto", "--hot-calls", "200", prog.path()]);
        assert_eq!((out.status.code(), stdout(&out).as_str(), stderr(&out).as_str()), (Some(0), "788482\n", ""));
    }
}

fn assert_compile_error(source: impl AsRef<[u8]>, needle: &str) {
    let prog = Program::new(source);
    let out = ore(&["run", prog.path()]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains(needle), "stderr lacks `{needle}`:\n{}", stderr(&out));
}

#[test]
fn deeply_nested_parentheses_are_refused() {
    let src = format!("fn main() -> i64 {{ {}1{} }}\n", "(".repeat(100_000), ")".repeat(100_000));
    assert_compile_error(src, "error: expression nests too deeply (more than 1000 levels)");
}

#[test]
fn deeply_nested_blocks_are_refused() {
    let src = format!("fn main() -> i64 {{ {}1{} }}\n", "{".repeat(100_000), "}".repeat(100_000));
    assert_compile_error(src, "error: block nests too deeply (more than 1000 levels)");
}

#[test]
fn long_operator_chains_are_refused_cleanly() {
    let src = format!("fn main() -> i64 {{ {} }}\n", vec!["1"; 5000].join(" + "));
    assert_compile_error(src, "prog.ore:1:20: error: expression nests too deeply");
}

#[test]
fn moderate_nesting_still_compiles() {
    let src = format!("fn main() -> i64 {{ {}1{} }}\n", "(".repeat(500), ")".repeat(500));
    let prog = Program::new(src);
    assert_eq!(stdout(&ore(&["run", prog.path()])), "1\n");
}

#[test]
fn invalid_utf8_is_located() {
    assert_compile_error(&b"fn main() {\n  print(\"h\xff\");\n}\n"[..], "prog.ore:2:11: error: source is not valid UTF-8");
}

#[test]
fn empty_file_has_no_main() {
    assert_compile_error("", "prog.ore:1:1: error: no `main` function");
}

#[test]
fn unterminated_string_at_end_of_file() {
    assert_compile_error("fn main() { print(\"abc", "prog.ore:1:19: error: unterminated string literal");
    assert_compile_error("fn main() { print(\"abc\\", "prog.ore:1:19: error: unterminated string literal");
}

#[test]
fn unexpected_end_of_file() {
    assert_compile_error("fn main() {\n  print(1);\n", "prog.ore:3:1: error: unexpected end of file");
}

#[test]
fn ten_megabyte_source_compiles_lazily() {
    let mut src = String::with_capacity(11 << 20);
    let mut i = 0;
    while src.len() < 10 << 20 {
        src.push_str(&format!("fn g{i}(a: i64, b: i64) -> i64 {{ let c = a * {i} + b; if c > 0 {{ c }} else {{ -c }} }}\n"));
        i += 1;
    }
    src.push_str("fn main() -> i64 { g5(2, 3) }\n");
    let prog = Program::new(&src);
    let out = ore(&["run", "--stats", prog.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "13\n");
    assert_eq!(stats(&out)["compiled"], 2);
}

#[test]
fn ten_megabyte_line_of_garbage_is_one_clear_error() {
    let src = "fn main() { ".to_string() + &"$".repeat(10 << 20);
    let prog = Program::new(src);
    let out = ore(&["run", prog.path()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with(&format!("{}:1:13: error: unexpected character `$`", prog.path())), "{}", &err[..200.min(err.len())]);
    assert!(err.len() < 1000, "the diagnostic must not echo the whole line");
}

#[test]
fn demo_example_runs() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.ore");
    let out = ore(&["run", "--stats", example.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = stats(&out);
    assert!(s["compiled"].as_u64() < s["functions"].as_u64(), "the demo leaves functions uncompiled: {s}");
    assert!(stdout(&out).contains("fib(30) = 832040"), "{}", stdout(&out));
}

#[test]
fn bench_reports_each_reached_function_and_silences_the_program() {
    let prog =
        Program::new("fn used(x: i64) -> i64 { x * 2 }\nfn unused() -> i64 { 1 }\nfn main(n: i64) -> i64 { print(12345); used(n) }\n");
    let out = ore(&["bench", "--repeat", "3", prog.path(), "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(!table.contains("12345"), "the program's output is silenced: {table}");
    assert!(table.contains("3 fresh engine(s)") && table.contains("optimize"), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("main ")) && lines.iter().any(|l| l.starts_with("used ")), "{table}");
    assert!(!table.contains("unused"), "an unreached function is not compiled: {table}");

    let out = ore(&["bench", "--json", "--repeat", "2", "-O0", prog.path(), "4"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["repeats"], 2);
    assert_eq!(report["opt_level"], 0);
    let functions = report["functions"].as_array().expect("functions");
    let names: Vec<&str> = functions.iter().map(|f| f["function"].as_str().unwrap()).collect();
    assert_eq!(names, ["main", "used"]);
    for f in functions {
        assert_eq!(f["samples"], 2);
        let total = f["total_us"]["min"].as_u64().unwrap();
        assert!(total > 0 && total <= f["total_us"]["p99"].as_u64().unwrap(), "{f}");
    }
}

#[test]
fn bench_reports_program_errors() {
    let failing = Program::new("fn main() -> i64 { 1 / 0 }\n");
    let out = ore(&["bench", failing.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("runtime error: division by zero"));
    let args = Program::new("fn main(a: i64) -> i64 { a }\n");
    assert_eq!(ore(&["bench", args.path()]).status.code(), Some(64));
    let broken = Program::new("fn main() { nope }\n");
    assert_eq!(ore(&["bench", broken.path()]).status.code(), Some(1));
}

#[test]
fn run_timeout_interrupts_main() {
    let prog = Program::new("fn main() { print(1); while true {} }\n");
    let out = ore(&["run", "--timeout", "100", prog.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "1\n");
    let trace = format!("  at main ({}:1:23)", prog.path());
    assert_eq!(stderr(&out), format!("runtime error: timeout: the call ran past its deadline\n{trace}\n"), "the loop that ran");
    let quick = Program::new("fn main() -> i64 { 5 }\n");
    let out = ore(&["run", "--timeout", "100", quick.path()]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), "5\n".to_string()));
}

#[test]
fn emit_ir_prints_one_standalone_module() {
    let prog = Program::new("fn fib(n: i64) -> i64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }\nfn main() -> i64 { fib(10) }\n");
    let out = ore(&["emit-ir", prog.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ir = stdout(&out);
    assert!(ir.contains("define i64 @ore.main(ptr"), "{ir}");
    assert!(ir.contains("call i64 @ore.fib(ptr"), "calls are direct:\n{ir}");
    assert!(!ir.contains("inttoptr"), "no addresses of this process:\n{ir}");
    assert!(ir.contains("define void @ore.rt.trap(") && ir.contains("call void @abort()"), "{ir}");
    // LLVM's own assembler accepts it.
    let file = prog._dir.path().join("fib.ll");
    std::fs::write(&file, &ir).unwrap();
    let llvm_as = Command::new("/usr/lib/llvm-19/bin/llvm-as").arg(&file).arg("-o").arg("/dev/null").output().unwrap();
    assert!(llvm_as.status.success(), "{}", String::from_utf8_lossy(&llvm_as.stderr));

    let bad = Program::new("fn main() -> i64 { x }\n");
    let out = ore(&["emit-ir", bad.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":1:20: error: unknown variable `x`"), "{}", stderr(&out));
}

#[test]
fn unchecked_builds_compute_the_same_results() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.ore");
    let expected = stdout(&ore(&["run", demo]));
    for checks in ["bounds", "division", "stack", "direct", "bounds,division,stack,direct"] {
        let out = ore(&["run", "--unchecked", checks, demo]);
        assert_eq!((out.status.code(), stdout(&out)), (Some(0), expected.clone()), "--unchecked {checks}");
    }
    let out = ore(&["run", "--unchecked", "speed", demo]);
    assert_eq!(out.status.code(), Some(64));
}

/// Runs `ore` with `input` on standard input.
fn ore_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ore"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ore");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for ore")
}

#[test]
fn a_dash_reads_the_program_from_standard_input() {
    let out = ore_stdin(&["run", "-", "5"], "fn main(n: i64) -> i64 { n * 6 }\n");
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), "30\n".to_string()), "{}", stderr(&out));
    let out = ore_stdin(&["run", "-"], "fn main() -> i64 { 1 / 0 }\n");
    assert_eq!(stderr(&out), "runtime error: division by zero\n  at main (<stdin>:1:20)\n");
    let out = ore_stdin(&["check", "-"], "fn main() { nope }\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("<stdin>:1:13: error:"), "{}", stderr(&out));
    let out = ore_stdin(&["emit-ir", "-"], "fn main() -> i64 { 2 }\n");
    assert!(stdout(&out).contains("define i64 @ore.main(ptr"), "{}", stdout(&out));
}

#[test]
fn check_json_gives_the_servers_diagnostic_structure() {
    let bad = Program::new("fn main() -> i64 {\n    let x = 1\n    x + true\n}\n");
    let out = ore(&["check", "--json", bad.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "", "diagnostics go to stdout only");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    let d = &report["diagnostics"][0];
    assert_eq!((d["file"].as_str(), d["line"].as_u64(), d["column"].as_u64()), (Some(bad.path()), Some(2), Some(14)));
    assert_eq!(d["message"], "expected `;` here, found identifier `x` on the next line");
    assert!(d["rendered"].as_str().unwrap().starts_with(&format!("{}:2:14: error: expected `;`", bad.path())), "{d}");
    let good = Program::new("fn main() {}\n");
    let out = ore(&["check", "--json", good.path()]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), "{\"diagnostics\":[]}\n".to_string()));
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let chatty = Program::new("fn main() { var i = 0; while i < 200000 { print(i); i = i + 1; } }\n");
    let functions = Program::new(thousand_functions(300).replace("f1(1) + f2(2) + f3(3)", "f1(1)"));
    for args in [vec!["run", chatty.path()], vec!["bench", "--repeat", "30", functions.path()], vec!["run", "--help"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ore"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run ore");
        // Close the pipe before ore writes (bench prints at the end) or while it does.
        if args[0] == "run" {
            let _ = std::io::Read::read(child.stdout.as_mut().unwrap(), &mut [0u8; 4]);
        }
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for ore");
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(out.status.success() || out.status.signal() == Some(libc::SIGPIPE), "{args:?}: {:?} {err}", out.status);
    }
}

#[test]
fn bench_takes_the_options_run_takes() {
    let dir = tempfile::tempdir().unwrap();
    let ll = dir.path().join("helper.ll");
    std::fs::write(&ll, "define i64 @helper(i64 %x) {\n  %y = mul i64 %x, 3\n  ret i64 %y\n}\n").unwrap();
    let prog = Program::new("extern fn helper(x: i64) -> i64;\nfn main(n: i64) -> i64 { helper(n) }\n");
    let out = ore(&["bench", "--json", "--eager", "-O0", "--link", ll.to_str().unwrap(), prog.path(), "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["opt_level"], 0);
    let spin = Program::new("fn main() { while true {} }\n");
    let out = ore(&["bench", "--timeout", "50", spin.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("runtime error: timeout"), "{}", stderr(&out));
    let out = ore(&["bench", "--lib", "/no/such/lib.so", prog.path(), "1"]);
    assert_eq!((out.status.code(), stderr(&out)), (Some(64), "error: cannot read `/no/such/lib.so`: no such file\n".to_string()));
}

#[test]
fn every_subcommand_help_lists_exit_statuses_environment_and_examples() {
    for command in ["run", "check", "bench", "serve", "emit-ir"] {
        let out = ore(&[command, "--help"]);
        let help = stdout(&out);
        assert_eq!(out.status.code(), Some(0));
        for section in ["Exit status:", "Examples:", &format!("ore {command} ")] {
            assert!(help.contains(section), "`ore {command} --help` lacks `{section}`:\n{help}");
        }
        if command != "emit-ir" {
            assert!(help.contains("ORE_LOG"), "`ore {command} --help` names no environment variable:\n{help}");
        }
    }
}

#[test]
fn llvm_remarks_stay_out_of_the_debug_log() {
    let prog = Program::new("fn main() -> i64 { 1 }\n");
    let debug = stderr(&ore_env(&["run", prog.path()], "ORE_LOG", "debug"));
    assert!(debug.contains("compiled") && !debug.contains("instructions in function") && !debug.contains("<unknown>"), "{debug}");
    let remarks = stderr(&ore_env(&["run", prog.path()], "ORE_LOG", "ore::llvm::remarks=trace"));
    assert!(remarks.contains("ore::llvm::remarks: ") && remarks.contains("instructions in function"), "{remarks}");
}
