//! The object cache (`Config::cache_dir`, `ore run --cache-dir`, `ore cache`,
//! `ore serve`): what one engine or process compiles, another links, with the
//! same results; damaged entries are misses; processes share a directory.

mod common;

use ore::{Config, Engine, OptLevel, Stats, Value};
use std::path::Path;
use std::process::{Command, Output};

/// Calls one another (through slots), loops, traps and has a guarded copy.
const PROGRAM: &str = "
fn sq(x: i64) -> i64 { x * x }
fn sum_squares(n: i64) -> i64 { var s = 0; var i = 0; while i < n { s = s + sq(i); i = i + 1; } s }
fn fib(n: i64) -> i64 { if n < 2 { return n; } fib(n - 1) + fib(n - 2) }
fn div(a: i64, b: i64) -> i64 { a / b }
fn main() -> i64 { sum_squares(10) + fib(15) }
";

fn config(dir: &Path) -> Config {
    Config { cache_dir: Some(dir.to_path_buf()), ..Config::default() }
}

/// Runs `main` in a new engine (new slots, so new addresses) with a cache in `dir`.
fn run_fresh(dir: &Path, config: Config) -> (Value, Stats) {
    let engine = Engine::new().unwrap();
    let ns = engine.namespace(Config { cache_dir: Some(dir.to_path_buf()), ..config }).unwrap();
    ns.add_module("program", PROGRAM).unwrap();
    let value = ns.call("main", &[]).unwrap();
    (value, ns.stats())
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for fan in std::fs::read_dir(dir.join("v1")).unwrap() {
        for f in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    files
}

#[test]
fn a_second_engine_links_what_the_first_compiled_and_gets_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let (cold, stats) = run_fresh(dir.path(), Config::default());
    assert_eq!(cold, Value::I64(285 + 610));
    assert_eq!((stats.compiled, stats.cache_hits, stats.cache_misses), (3, 0, 3), "main, sum_squares, fib (sq is copied in)");
    assert_eq!(entries(dir.path()).len(), 3);
    let (warm, stats) = run_fresh(dir.path(), Config::default());
    assert_eq!(warm, cold);
    assert_eq!((stats.compiled, stats.cache_hits, stats.cache_misses), (3, 3, 0));
    assert_eq!(entries(dir.path()).len(), 3);
}

#[test]
fn cached_code_traps_with_its_trace_and_a_redefinition_still_wins() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let engine = Engine::new().unwrap();
        let ns = engine.namespace(config(dir.path())).unwrap();
        if round == 1 {
            // Numbers every later definition differently from round 0.
            ns.add_module("first", "fn unrelated() -> i64 { 1 }\nfn sq(x: i64) -> i64 { 0 }").unwrap();
        }
        ns.add_module("program", PROGRAM).unwrap();
        assert_eq!(ns.call("main", &[]).unwrap(), Value::I64(895));
        let error = ns.call("div", &[Value::I64(1), Value::I64(0)]).unwrap_err();
        assert!(error.to_string().contains("division by zero"), "{error}");
        let trace = error.trace().expect("a runtime error");
        assert_eq!(trace.frames[0].function, "div");
        assert_eq!(trace.frames[0].location.as_ref().unwrap().line, 5);
        // sum_squares carries a copy of sq, guarded by sq's definition number.
        ns.add_module("sq2", "fn sq(x: i64) -> i64 { x * x * x }").unwrap();
        assert_eq!(ns.call("sum_squares", &[Value::I64(10)]).unwrap(), Value::I64(2025));
        let stats = ns.stats();
        assert_eq!(stats.cache_hits, if round == 0 { 0 } else { stats.compiled }, "round {round}");
    }
}

#[test]
fn the_key_covers_the_opt_level_and_the_code_options() {
    let dir = tempfile::tempdir().unwrap();
    run_fresh(dir.path(), Config::default());
    for (what, config) in [
        ("-O0", Config { opt_level: OptLevel::O0, ..Config::default() }),
        ("deadline checks", Config { interruptible: true, ..Config::default() }),
        ("debug info", Config { debug_info: true, ..Config::default() }),
    ] {
        let (value, stats) = run_fresh(dir.path(), config.clone());
        assert_eq!(value, Value::I64(895), "{what}");
        assert_eq!((stats.cache_hits, stats.cache_misses), (0, 3), "{what}: a new key");
        let (_, stats) = run_fresh(dir.path(), config);
        assert_eq!((stats.cache_hits, stats.cache_misses), (3, 0), "{what}: its own entries");
    }
}

#[test]
fn damaged_or_foreign_entries_are_misses_that_get_replaced() {
    let dir = tempfile::tempdir().unwrap();
    run_fresh(dir.path(), Config::default());
    let files = entries(dir.path());
    let good: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    // Truncated, garbage, and one function's entry under another's name.
    std::fs::write(&files[0], &good[0][..good[0].len() / 2]).unwrap();
    std::fs::write(&files[1], b"\x7fELF not an entry").unwrap();
    std::fs::write(&files[2], &good[0]).unwrap();
    let (value, stats) = run_fresh(dir.path(), Config::default());
    assert_eq!(value, Value::I64(895));
    assert_eq!((stats.cache_hits, stats.cache_misses), (0, 3));
    let replaced: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(replaced, good, "each entry was written again");
    let (_, stats) = run_fresh(dir.path(), Config::default());
    assert_eq!(stats.cache_hits, 3);
}

#[test]
fn an_unusable_directory_only_means_no_cache() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a file");
    std::fs::write(&file, "").unwrap();
    let (value, stats) = run_fresh(&file, Config::default());
    assert_eq!(value, Value::I64(895));
    assert_eq!((stats.compiled, stats.cache_hits, stats.cache_misses), (3, 0, 0));
}

#[test]
fn the_size_cap_keeps_the_directory_small() {
    let dir = tempfile::tempdir().unwrap();
    let (value, _) = run_fresh(dir.path(), Config { cache_max_bytes: Some(2000), ..Config::default() });
    assert_eq!(value, Value::I64(895));
    let bytes: u64 = entries(dir.path()).iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(bytes <= 2000, "{bytes} bytes kept");
}

fn ore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ore")).args(args).output().expect("run ore")
}

fn stats_of(output: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    serde_json::from_str(stderr.lines().last().expect("a stats line")).expect("stats JSON")
}

#[test]
fn processes_share_a_directory_at_once_and_later() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("many.ore");
    // 60 functions, all called, so the two processes write many entries at once.
    let mut source: String = (0..60).map(|i| format!("fn f{i}(x: i64) -> i64 {{ x * {i} + {} }}\n", i % 7)).collect();
    source.push_str("fn main() -> i64 { var s = 0;");
    source.extend((0..60).map(|i| format!(" s = s + f{i}({i});")));
    source.push_str(" s }\n");
    std::fs::write(&program, source).unwrap();
    let expected: i64 = (0..60).map(|i| i * i + i % 7).sum();
    let cache = dir.path().join("cache");
    let args = ["run", "--stats", "--cache-dir", cache.to_str().unwrap(), program.to_str().unwrap()];
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ore"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for output in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected.to_string());
        let stats = stats_of(&output);
        assert_eq!(stats["cache_hits"].as_u64().unwrap() + stats["cache_misses"].as_u64().unwrap(), 61);
    }
    let third = ore(&args);
    assert_eq!(String::from_utf8_lossy(&third.stdout).trim(), expected.to_string());
    assert_eq!(stats_of(&third)["cache_hits"], 61);
    assert_eq!(entries(&cache).len(), 61, "no temporary file is left");
}

#[test]
fn ore_cache_shows_and_empties_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("p.ore");
    std::fs::write(&program, PROGRAM).unwrap();
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    let run = ore(&["run", "--cache-dir", cache, program.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "895");
    let stats = ore(&["cache", "stats", "--json", "--cache-dir", cache]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["entries"], 3);
    let bytes = stats["bytes"].as_u64().unwrap();
    assert!(bytes > 3 * 80, "{bytes}");
    let text = ore(&["cache", "stats", "--cache-dir", cache]);
    assert_eq!(String::from_utf8_lossy(&text.stdout), format!("{cache}: 3 entries, {bytes} bytes\n"));
    let cleared = Command::new(env!("CARGO_BIN_EXE_ore")).args(["cache", "clear"]).env("ORE_CACHE_DIR", cache).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&cleared.stdout), format!("{cache}: removed 3 entries, {bytes} bytes\n"));
    let text = ore(&["cache", "stats", "--cache-dir", cache]);
    assert_eq!(String::from_utf8_lossy(&text.stdout), format!("{cache}: 0 entries, 0 bytes\n"));
    let missing = ore(&["cache", "stats", "--cache-dir", "/nonexistent/ore-cache"]);
    assert_eq!(missing.status.code(), Some(64));
    assert_eq!(String::from_utf8_lossy(&missing.stderr), "error: no cache directory at /nonexistent/ore-cache\n");
}

#[test]
fn the_server_keeps_its_cache_beside_its_state_and_links_from_it_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ore.db");
    let state = state.to_str().unwrap();
    let lookups = |server: &common::server::Server| {
        let text = ureq::get(&format!("{}/metrics", server.base)).call().unwrap().into_string().unwrap();
        ["hit", "miss"].map(|r| {
            let line = format!("ore_object_cache_lookups_total{{result=\"{r}\"}} ");
            text.lines().find_map(|l| l.strip_prefix(&line)).unwrap_or_else(|| panic!("no {line} in {text}")).to_string()
        })
    };
    let server = common::server::Server::start(&["--state", state]);
    assert_eq!(server.load("t", "program", PROGRAM).0, 201);
    assert_eq!(server.call("t", "main", serde_json::json!([])).1["result"], 895);
    assert_eq!(lookups(&server), ["0", "3"]);
    server.terminate();
    assert_eq!(entries(&dir.path().join("ore.db.cache")).len(), 3);
    let server = common::server::Server::start(&["--state", state]);
    assert_eq!(server.call("t", "main", serde_json::json!([])).1["result"], 895);
    assert_eq!(lookups(&server), ["3", "0"]);
    server.terminate();
    let server = common::server::Server::start(&["--state", state, "--no-cache"]);
    assert_eq!(server.call("t", "main", serde_json::json!([])).1["result"], 895);
    assert_eq!(lookups(&server), ["0", "0"]);
}
