//! `ore serve` under hostile load (the reliability issue, items 6 to 10): compiles
//! past the deadline, `load` in a loop, arrays and calls past the process's means,
//! half-sent requests and connection floods. Loopback only; every loop is bounded.

mod common;

use common::server::Server;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A function that takes about half a second to compile at -O2 (150 divisions,
/// each with its checks), below the size at which Ore compiles at -O0.
fn slow_to_compile() -> String {
    let body: String = (0..150).map(|i| format!(" s = s + (x * {i} + 7) / (x + {});", i + 1)).collect();
    format!("fn f(x: i64) -> i64 {{ var s = 0;{body} s }}")
}

#[test]
fn a_compile_that_outlives_the_deadline_is_answered_timeout() {
    let server = Server::start(&[]);
    assert_eq!(server.load("slow", "m", &slow_to_compile()).0, 201);
    let (status, body) = server.call_with_timeout("slow", "f", json!([3]), 30);
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"]["kind"], "timeout");
    // The compile finished in the background (or finishes now): the next call runs.
    let expected: i64 = (0..150).map(|i| (3 * i + 7) / (3 + i + 1)).sum();
    let (status, body) = server.call_with_timeout("slow", "f", json!([3]), 30_000);
    assert_eq!((status, body["result"].clone()), (200, json!(expected)), "{body}");
}

#[test]
fn load_in_a_loop_is_bounded_and_its_memory_comes_back() {
    let server = Server::start(&["--max-loads-per-call", "300"]);
    let churn = "fn g() -> i64;
fn churn(n: i64) -> i64 { var i = 0; var s = 0; while i < n { load(\"fn g() -> i64 { 7 }\"); s = s + g(); i = i + 1; } s }";
    assert_eq!(server.load("warm", "m", churn).0, 201);
    assert_eq!(server.call("warm", "churn", json!([300])).1["result"], 2100);
    let baseline = server.rss_kib();
    assert_eq!(server.load("tenant", "m", churn).0, 201);
    for _ in 0..10 {
        let (status, body) = server.call("tenant", "churn", json!([1_000_000]));
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["message"], "load limit exceeded: a call may load at most 300 modules");
    }
    let during = server.rss_kib();
    assert_eq!(server.request("DELETE", "/v1/namespaces/tenant", None).0, 204);
    let after = server.rss_kib();
    eprintln!("RSS KiB: baseline {baseline}, after 10 x 300 loads {during}, namespace deleted {after}");
    assert!(after < baseline + 48 * 1024, "RSS grew from {baseline} to {after} KiB");
}

#[test]
fn arrays_of_all_calls_share_one_process_cap() {
    let server = Server::start(&["--max-array-bytes", "48000000", "--max-total-array-bytes", "64000000"]);
    let hold = "fn hold(n: i64) -> i64 { let a = [1; n]; var s = 0; while true { s = s + a[0]; } s }
fn take(n: i64) -> i64 { let a = [2; n]; a[n - 1] }";
    assert_eq!(server.load("m", "m", hold).0, 201);
    let baseline = server.rss_kib();
    let holder = {
        let client = server.client.clone();
        std::thread::spawn(move || client.call_with_timeout("m", "hold", json!([5_000_000]), 4000))
    };
    wait_until(|| server.rss_kib() > baseline + 30_000, "the holder allocated its array");
    // 40 MB held by the other call: 40 MB more is over the process's 64 MB.
    let (status, body) = server.call("m", "take", json!([5_000_000]));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["message"], "memory limit exceeded: cannot allocate an array of 5000000 elements");
    assert_eq!(holder.join().unwrap().0, 408);
    // The holder's arrays go with its call. On a loaded machine the server's own
    // timer may answer 408 before the call has reached its deadline check and
    // ended, so wait for that.
    wait_until(|| server.call("m", "take", json!([5_000_000])).1["result"] == 2, "the holder's arrays were freed");
}

#[test]
fn a_saturated_server_answers_busy_and_stays_healthy() {
    let server = Server::start(&["--max-concurrent-calls", "2"]);
    assert_eq!(server.load("m", "m", "fn spin() { while true {} }\nfn ok() -> i64 { 1 }").0, 201);
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let client = server.client.clone();
            std::thread::spawn(move || client.call_with_timeout("m", "spin", json!([]), 3000).0)
        })
        .collect();
    wait_until(|| calls_in_flight(&server) == 2, "both spinners run");
    let response = ureq::post(&format!("{}/v1/namespaces/m/call", server.base)).send_json(json!({"function": "ok"}));
    let Err(ureq::Error::Status(503, response)) = response else { panic!("expected 503, got {response:?}") };
    assert_eq!(response.header("Retry-After"), Some("1"));
    let body: serde_json::Value = response.into_json().unwrap();
    assert_eq!(body["error"]["kind"], "busy");
    assert_eq!(server.request("GET", "/healthz", None).0, 200);
    for s in spinners {
        assert_eq!(s.join().unwrap(), 408);
    }
    assert_eq!(server.call("m", "ok", json!([])).1["result"], 1);
}

/// Waits, boundedly, for `condition` (the server works on other threads).
fn wait_until(condition: impl Fn() -> bool, what: &str) {
    let give_up = std::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(std::time::Instant::now() < give_up, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The server's `ore_calls_in_flight` gauge.
fn calls_in_flight(server: &Server) -> i64 {
    let (_, text) = server.request("GET", "/metrics", None);
    let text = text.as_str().unwrap_or_default().to_string();
    let line = text.lines().find(|l| l.starts_with("ore_calls_in_flight ")).expect("the gauge");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Lets this process open more sockets than the default soft limit of 1,024.
fn raise_open_files() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// Whether the server closed `stream` (a read sees the end, or an error).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => true, // an error response, then the close
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

#[test]
fn half_sent_requests_do_not_starve_the_server() {
    raise_open_files();
    let server = Server::start(&["--header-timeout-ms", "1500", "--body-timeout-ms", "1500"]);
    let mut half: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(&server.address).unwrap();
            s.write_all(b"POST /v1/namespaces/x/call HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    for _ in 0..5 {
        assert_eq!(server.request("GET", "/healthz", None).0, 200, "healthz answers beside 1,000 half requests");
    }
    // A body cut short gets a timeout answer.
    let mut cut = TcpStream::connect(&server.address).unwrap();
    cut.write_all(b"POST /v1/namespaces/x/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"fun")
        .unwrap();
    cut.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = cut.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"kind\":\"timeout\""), "{answer}");
    // By now the header timeout has passed for the half requests: all closed.
    std::thread::sleep(Duration::from_millis(500));
    let open = half.iter_mut().map(closed_by_server).filter(|closed| !closed).count();
    assert_eq!(open, 0, "half requests still open after the header timeout");
}

#[test]
fn connections_past_the_limit_are_closed_at_once() {
    let server = Server::start(&["--max-connections", "8"]);
    let mut idle: Vec<TcpStream> = (0..9).map(|_| TcpStream::connect(&server.address).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // Whichever was accepted last is the one over the limit.
    let closed = idle.iter_mut().map(closed_by_server).filter(|c| *c).count();
    assert_eq!(closed, 1, "exactly one of nine connections is closed");
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.request("GET", "/healthz", None).0, 200);
}
