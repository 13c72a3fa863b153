//! Load script for `ore serve` (loopback only; stops by itself):
//!
//!     cargo bench --bench server            # 3 s per row
//!     ORE_LOAD_SECONDS=10 cargo bench --bench server
//!
//! Starts the real server on an ephemeral loopback port, loads a trivial function,
//! and drives `POST /call` from 1, 4 and 16 client threads with keep-alive
//! connections, reporting calls/s and p50/p99 latency. In the same run it drives a
//! bare axum handler that returns a constant, the floor any HTTP service built this
//! way pays, measures how precisely runaway calls are cut off at `timeout_ms`, and
//! runs namespace create/load/call/delete cycles watching the server's RSS
//! (`ORE_SOAK_CYCLES`, default 2000).

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: f64 = std::env::var("ORE_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);

    let mut server = Command::new(env!("CARGO_BIN_EXE_ore"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ORE_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .expect("ore serve starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = format!("http://{}", line.trim().trim_start_matches("listening on "));
    let source = "fn inc(x: i64) -> i64 { x + 1 }\nfn spin() { while true {} }";
    ureq::post(&format!("{base}/v1/namespaces/bench/modules")).send_json(json!({"name": "m", "source": source})).expect("module loads");
    let call_url = format!("{base}/v1/namespaces/bench/call");
    let bare_url = bare_axum_server();

    println!("trivial calls over HTTP/1.1 keep-alive, {seconds} s per row, loopback, this machine's cores shared by clients and server");
    println!("{:<28} {:>7} {:>10} {:>9} {:>9}", "target", "clients", "calls/s", "p50 us", "p99 us");
    for clients in [1, 4, 16] {
        for (name, url, body) in [
            ("ore serve: inc(41)", &call_url, json!({"function": "inc", "args": [41]})),
            ("bare axum: constant JSON", &bare_url, json!({"function": "inc", "args": [41]})),
        ] {
            let row = drive(url, &body, clients, duration);
            println!("{name:<28} {clients:>7} {:>10.0} {:>9} {:>9}", row.calls_per_second, row.p50_us, row.p99_us);
        }
    }

    let mut overshoot: Vec<i64> = (0..20)
        .map(|_| {
            let reply = ureq::post(&call_url).send_json(json!({"function": "spin", "timeout_ms": 50}));
            let body: serde_json::Value = match reply {
                Err(ureq::Error::Status(408, r)) => r.into_json().unwrap(),
                other => panic!("expected a timeout, got {other:?}"),
            };
            body["elapsed_us"].as_i64().unwrap() - 50_000
        })
        .collect();
    overshoot.sort();
    println!(
        "timeout precision (timeout_ms 50, 20 calls): elapsed minus deadline min {} us, median {} us, max {} us",
        overshoot[0],
        overshoot[overshoot.len() / 2],
        overshoot[overshoot.len() - 1]
    );
    soak(&base);
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let _ = server.wait();
}

struct Row {
    calls_per_second: f64,
    p50_us: u64,
    p99_us: u64,
}

/// `clients` threads post `body` to `url` back to back for `duration`.
fn drive(url: &str, body: &serde_json::Value, clients: usize, duration: Duration) -> Row {
    let started = Instant::now();
    let mut latencies: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let agent = ureq::AgentBuilder::new().build();
                    let mut mine = Vec::new();
                    while started.elapsed() < duration {
                        let t = Instant::now();
                        let reply: serde_json::Value = agent.post(url).send_json(body.clone()).unwrap().into_json().unwrap();
                        mine.push(t.elapsed().as_micros() as u64);
                        assert_eq!(reply["result"], 42);
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Row { calls_per_second: latencies.len() as f64 / elapsed, p50_us: at(0.5), p99_us: at(0.99) }
}

/// A bare axum handler returning a constant, on its own runtime; returns its URL.
fn bare_axum_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let app =
                axum::Router::new().route("/call", axum::routing::post(|_: axum::body::Bytes| async { axum::Json(json!({"result": 42})) }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}/call", rx.recv().unwrap())
}

/// Namespaces created, given a module, called and deleted over and over: the RSS
/// after a warm-up and at the end.
fn soak(base: &str) {
    let cycles: usize = std::env::var("ORE_SOAK_CYCLES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let agent = ureq::AgentBuilder::new().build();
    let rss = || -> f64 {
        let text = agent.get(&format!("{base}/metrics")).call().unwrap().into_string().unwrap();
        let line = text.lines().find(|l| l.starts_with("ore_resident_memory_bytes ")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / (1 << 20) as f64
    };
    let warm_up = cycles / 10;
    let mut before = 0.0;
    let started = Instant::now();
    for i in 0..cycles {
        if i == warm_up {
            before = rss();
        }
        let ns = format!("{base}/v1/namespaces/soak{}", i % 4);
        let source = format!("fn f(x: i64) -> i64 {{ x + {i} }}");
        agent.post(&format!("{ns}/modules")).send_json(json!({"name": "m", "source": source})).unwrap();
        let reply: serde_json::Value =
            agent.post(&format!("{ns}/call")).send_json(json!({"function": "f", "args": [1]})).unwrap().into_json().unwrap();
        assert_eq!(reply["result"], i as i64 + 1);
        if i % 4 == 3 {
            for k in 0..4 {
                agent.delete(&format!("{base}/v1/namespaces/soak{k}")).call().unwrap();
            }
        }
    }
    println!(
        "soak: {cycles} cycles of load+compile+call in 4 namespaces, each deleted every 4 cycles ({:.1} ms per cycle): RSS {before:.1} MiB after {warm_up} cycles, {:.1} MiB at the end",
        started.elapsed().as_secs_f64() * 1000.0 / cycles as f64,
        rss()
    );
}
