//! Section 11: the object cache, cold against warm, for a program run twice and
//! for a server restarting.

use super::{ore_stats, spread, time, Report, Spread, Suite};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// `n` functions, each called once by `main` (so all are compiled).
pub(super) fn all_called(n: usize) -> String {
    let mut s: String = (0..n).map(|i| format!("fn f{i}(x: i64) -> i64 {{ x * {} + {} }}\n", i % 17 + 1, i % 5)).collect();
    s.push_str("fn main() -> i64 {\n    var s = 0;\n");
    s.extend((0..n).map(|i| format!("    s = s + f{i}({i});\n")));
    s.push_str("    s\n}\n");
    s
}

/// Compile time (IR generation to linked code) and wall time to result of `file`
/// run `repeats` times, each with an empty cache (cold) or a filled one (warm).
fn program_row(suite: &Suite, report: &mut Report, name: &str, file: &Path, repeats: usize) -> f64 {
    let dir = suite.scratch.path().join(format!("cache-{name}"));
    let dir_arg = dir.to_str().unwrap();
    let measure = |cold: bool| {
        let mut compile = Vec::new();
        let mut wall = Vec::new();
        let mut outputs = Vec::new();
        for _ in 0..repeats {
            if cold {
                let _ = std::fs::remove_dir_all(&dir);
            }
            let (run, stats) = ore_stats(suite, &["--cache-dir", dir_arg], file, &[]);
            let hits = stats["cache_hits"].as_u64().unwrap();
            assert_eq!(hits == 0, cold, "{name}: {stats}");
            compile.push((stats["irgen_us"].as_u64().unwrap() + stats["compile_us"].as_u64().unwrap()) as f64);
            wall.push(run.wall.as_secs_f64() * 1e6);
            outputs.push(run.stdout);
        }
        (spread(compile), spread(wall), outputs)
    };
    let (cold_compile, cold_wall, cold_out) = measure(true);
    let (warm_compile, warm_wall, warm_out) = measure(false);
    assert_eq!(cold_out, warm_out, "{name}: the cached code gives other results");
    let ratio = warm_compile.median / cold_compile.median;
    report.line(format!(
        "| {name} | {} | {} | {ratio:.3} | {} | {} |",
        time(cold_compile),
        time(warm_compile),
        time(cold_wall),
        time(warm_wall)
    ));
    ratio
}

/// A started `ore serve` and its base URL.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(suite: &Suite, flags: &[&str]) -> Server {
        let mut child = Command::new(&suite.ore)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .env_remove("ORE_CACHE_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ore serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().strip_prefix("listening on ").expect("the listening line").to_string();
        Server { child, base: format!("http://{address}") }
    }

    fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        ureq::post(&format!("{}{path}", self.base)).send_json(body).unwrap().into_json().unwrap()
    }

    /// Seconds spent compiling, from `/metrics`.
    fn compile_seconds(&self) -> f64 {
        let text = ureq::get(&format!("{}/metrics", self.base)).call().unwrap().into_string().unwrap();
        text.lines().find_map(|l| l.strip_prefix("ore_compile_seconds_sum ")).unwrap().parse().unwrap()
    }

    fn stop(mut self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap();
    }
}

const NAMESPACES: usize = 100;

/// Each namespace's module: eight functions calling one another, and `main`.
fn tenant_module(t: usize) -> String {
    let mut s: String = (0..8)
        .map(|i| format!("fn g{i}(x: i64) -> i64 {{ var s = x; var k = 0; while k < {i} + 3 {{ s = s * 3 + k; k = k + 1; }} s % 1000 }}\n"))
        .collect();
    s.push_str(&format!("fn main() -> i64 {{ g0({t}) + g1(1) + g2(2) + g3(3) + g4(4) + g5(5) + g6(6) + g7(7) }}\n"));
    s
}

/// Restarts a server whose state holds `NAMESPACES` namespaces and calls each
/// `main` once: (compile time, wall time from start to the last answer).
fn restart(suite: &Suite, state: &Path, cache: &Path) -> (f64, f64, Vec<serde_json::Value>) {
    let started = Instant::now();
    let server = Server::start(suite, &["--state", state.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()]);
    let results: Vec<serde_json::Value> = (0..NAMESPACES)
        .map(|t| server.post(&format!("/v1/namespaces/t{t}/call"), serde_json::json!({"function": "main", "args": []}))["result"].clone())
        .collect();
    let wall = started.elapsed().as_secs_f64() * 1e6;
    let compile = server.compile_seconds() * 1e6;
    server.stop();
    (compile, wall, results)
}

fn server_row(suite: &Suite, report: &mut Report, repeats: usize) -> f64 {
    let state = suite.scratch.path().join("tenants.db");
    let warm_cache = suite.scratch.path().join("tenants-warm");
    let server = Server::start(suite, &["--state", state.to_str().unwrap(), "--cache-dir", warm_cache.to_str().unwrap()]);
    for t in 0..NAMESPACES {
        server.post(&format!("/v1/namespaces/t{t}/modules"), serde_json::json!({"name": "m", "source": tenant_module(t)}));
        server.post(&format!("/v1/namespaces/t{t}/call"), serde_json::json!({"function": "main", "args": []}));
    }
    server.stop();
    let (mut cold, mut warm) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    let mut answers = Vec::new();
    for _ in 0..repeats {
        let empty = suite.scratch.path().join("tenants-cold");
        let _ = std::fs::remove_dir_all(&empty);
        for (cache, into) in [(&empty, &mut cold), (&warm_cache, &mut warm)] {
            let (compile, wall, results) = restart(suite, &state, cache);
            into.0.push(compile);
            into.1.push(wall);
            answers.push(results);
        }
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "restarts answered differently");
    let [cold_compile, cold_wall, warm_compile, warm_wall]: [Spread; 4] = [cold.0, cold.1, warm.0, warm.1].map(spread);
    let ratio = warm_compile.median / cold_compile.median;
    report.line(format!(
        "| `ore serve --state` restart, {NAMESPACES} namespaces × 9 functions, each `main` called | {} | {} | {ratio:.3} | {} | {} |",
        time(cold_compile),
        time(warm_compile),
        time(cold_wall),
        time(warm_wall)
    ));
    ratio
}

pub(super) fn object_cache(suite: &Suite, report: &mut Report) {
    let repeats = suite.repeats(5);
    report.line("## 11. Object cache");
    report.line("");
    report.line(format!(
        "Cold: an empty cache directory; warm: the directory a previous run filled. Compile time is `irgen_us + \
         compile_us` of `ore run --stats` (the server's `ore_compile_seconds_sum`); a warm compile still generates \
         each function's IR (its key is the IR's hash), then reads the entry and links it. Wall time is to the \
         program's result, process start included (for the server: start, restore and one call per namespace). \
         -O2, {repeats} repeats, cold and warm interleaved for the server."
    ));
    report.line("");
    report.line("| program | compile cold | compile warm | warm / cold | wall cold | wall warm |");
    report.line("| --- | --- | --- | ---: | --- | --- |");
    let demo = program_row(suite, report, "`examples/demo.ore`", &suite.root.join("examples/demo.ore"), repeats);
    let many = suite.write("all_called_1000.ore", &all_called(1000));
    let many = program_row(suite, report, "1,000 functions, each called once", &many, repeats);
    let server = server_row(suite, report, repeats);
    report.line("");
    let worst = demo.max(many).max(server);
    report.goal(
        "object cache: warm compile time ≤ 0.1x cold (demo, 1,000 functions, server restart)",
        worst <= 0.1,
        format!("{demo:.3}, {many:.3}, {server:.3}"),
    );
}
