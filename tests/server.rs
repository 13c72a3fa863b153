//! `ore serve`, end to end: each test starts the real server on an ephemeral
//! loopback port and talks to it over HTTP with a real client (ureq).

mod common;

use common::server::{reply, Client, Server};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const ARITH: &str = "
fn add(a: i64, b: i64) -> i64 { print(a); print(b); a + b }
fn half(x: f64) -> f64 { x / 2.0 }
fn div(a: i64, b: i64) -> i64 { a / b }
fn total(xs: [i64]) -> i64 { var s = 0; var i = 0; while i < len(xs) { s = s + xs[i]; i = i + 1; } s }
fn unused() -> i64 { 1 }
";

#[test]
fn load_call_list_and_unload() {
    let server = Server::start(&[]);
    let (status, body) = server.load("math", "arith", ARITH);
    assert_eq!(status, 201, "{body}");
    let names: Vec<&str> = body["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["add", "half", "div", "total", "unused"]);
    assert_eq!(body["functions"][0]["signature"], "fn(i64, i64) -> i64");

    let (status, body) = server.call("math", "add", json!([2, 40]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], 42);
    assert_eq!(body["stdout"], "2\n40\n");
    assert_eq!(body["compiled"], json!(["add"]));
    assert!(body["elapsed_us"].as_u64().is_some());

    // Compiled once: the second call compiles nothing.
    let (_, body) = server.call("math", "add", json!([1, 1]));
    assert_eq!((body["result"].clone(), body["compiled"].clone()), (json!(2), json!([])));
    assert_eq!(server.call("math", "half", json!([3])).1["result"], 1.5);
    assert_eq!(server.call("math", "half", json!(["inf"])).1["result"], "inf");
    assert_eq!(server.call("math", "total", json!([[1, 2, 3, 4]])).1["result"], 10);

    let (status, body) = server.request("GET", "/v1/namespaces/math/functions", None);
    assert_eq!(status, 200);
    let functions = body["functions"].as_array().unwrap();
    let add = functions.iter().find(|f| f["name"] == "add").unwrap();
    assert_eq!((add["state"].as_str(), add["calls"].as_u64()), (Some("compiled"), Some(2)));
    assert!(add["compile_us"].as_u64().unwrap() > 0);
    let unused = functions.iter().find(|f| f["name"] == "unused").unwrap();
    assert_eq!((unused["state"].as_str(), unused["calls"].as_u64(), unused["compile_us"].as_u64()), (Some("lazy"), Some(0), Some(0)));

    // Replacing the module by name redefines its functions at once.
    let (status, _) = server.load("math", "arith", "fn add(a: i64, b: i64) -> i64 { a * b }");
    assert_eq!(status, 201);
    assert_eq!(server.call("math", "add", json!([6, 7])).1["result"], 42);
    let (status, body) = server.call("math", "half", json!([1.0]));
    assert_eq!((status, body["error"]["message"].as_str()), (422, Some("undefined function half")));

    assert_eq!(server.request("DELETE", "/v1/namespaces/math/modules/arith", None).0, 204);
    let (status, body) = server.call("math", "add", json!([6, 7]));
    assert_eq!((status, body["error"]["kind"].as_str()), (422, Some("runtime")));
    assert_eq!(server.request("DELETE", "/v1/namespaces/math/modules/arith", None).0, 404);

    assert_eq!(server.request("DELETE", "/v1/namespaces/math", None).0, 204);
    let (status, body) = server.call("math", "add", json!([1, 2]));
    assert_eq!((status, body["error"]["kind"].as_str()), (404, Some("not_found")));
}

#[test]
fn compile_and_runtime_errors_are_structured() {
    let server = Server::start(&[]);
    let (status, body) = server.load("e", "bad", "fn f() -> i64 {\n  1 + true\n}");
    assert_eq!(status, 400);
    assert_eq!(body["error"]["kind"], "compile");
    let d = &body["error"]["diagnostics"][0];
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(2), Some(3)));
    assert!(d["message"].as_str().unwrap().contains("i64"), "{d}");
    assert!(d["rendered"].as_str().unwrap().starts_with("bad:2:3: error:"), "{d}");
    // A namespace created for a module that failed is not kept.
    assert_eq!(server.request("GET", "/v1/namespaces/e/functions", None).0, 404);

    server.load("e", "arith", ARITH);
    let (status, body) = server.call("e", "div", json!([1, 0]));
    assert_eq!(status, 422);
    let trace = json!([{"function": "div", "file": "arith", "line": 4, "column": 33}]);
    assert_eq!(body["error"], json!({"kind": "runtime", "message": "division by zero", "trace": trace}));
    server.load("e", "calls", "fn twice(b: i64) -> i64 {\n  div(2, b) * 2\n}");
    let (_, body) = server.call("e", "twice", json!([0]));
    assert_eq!(body["error"]["trace"][1], json!({"function": "twice", "file": "calls", "line": 2, "column": 3}), "{body}");
    // A failed compile changes nothing that was loaded.
    assert_eq!(server.load("e", "arith", "fn div(a: i64) -> i64 { a }").0, 400);
    assert_eq!(server.call("e", "div", json!([9, 3])).1["result"], 3);
}

#[test]
fn malformed_requests_get_json_errors() {
    let server = Server::start(&[]);
    server.load("m", "arith", ARITH);
    for (body, needle) in [
        ("{\"function\":", "invalid JSON"),
        ("[1, 2]", "invalid JSON"),
        ("{\"function\": \"add\", \"args\": [1, 2], \"extra\": 1}", "unknown field"),
        ("{\"function\": \"add\", \"args\": [1]}", "takes 2 argument"),
        ("{\"function\": \"add\", \"args\": [1, \"x\"]}", "argument 2 of `add`: expected an integer"),
        ("{\"function\": \"add\", \"args\": [1, 2.5]}", "expected an integer"),
        ("{\"function\": \"add\", \"args\": [1, 2], \"timeout_ms\": 999999999}", "over the server's maximum"),
    ] {
        let (status, reply) = raw_post(&server, "/v1/namespaces/m/call", body);
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"]["kind"], "bad_request", "{body}");
        assert!(reply["error"]["message"].as_str().unwrap().contains(needle), "{body}: {reply}");
    }
    let (status, reply) = raw_post(&server, "/v1/namespaces/m/call", "{\"function\": \"nope\"}");
    assert_eq!((status, reply["error"]["kind"].as_str()), (404, Some("not_found")));
    let (status, reply) = raw_post(&server, "/v1/namespaces/bad%20name/modules", "{\"name\": \"x\", \"source\": \"\"}");
    assert_eq!((status, reply["error"]["kind"].as_str()), (400, Some("bad_request")));
    let (status, reply) = server.request("GET", "/no/such/endpoint", None);
    assert_eq!((status, reply["error"]["kind"].as_str()), (404, Some("not_found")));
}

#[test]
fn namespaces_and_modules_can_be_listed_and_read_back() {
    let server = Server::start(&[]);
    assert_eq!(server.request("GET", "/v1/namespaces", None), (200, json!({"namespaces": []})));
    server.load("b", "arith", ARITH);
    let decls = "fn later(x: i64) -> i64;\nfn twice(x: i64) -> i64 { later(x) * 2 }";
    server.load("a", "decls", decls);
    server.load("a", "later", "fn later(x: i64) -> i64 { x + 1 }");
    let (status, body) = server.request("GET", "/v1/namespaces", None);
    assert_eq!(status, 200);
    assert_eq!(
        body["namespaces"],
        json!([{"name": "a", "modules": 2, "functions": 2}, {"name": "b", "modules": 1, "functions": 5}]),
        "sorted by name, with counts"
    );
    let (status, body) = server.request("GET", "/v1/namespaces/a/modules", None);
    assert_eq!(status, 200);
    assert_eq!(
        body["modules"],
        json!([
            {"name": "decls", "language": "ore", "opt_level": null, "functions": ["later", "twice"]},
            {"name": "later", "language": "ore", "opt_level": null, "functions": ["later"]},
        ])
    );
    let (status, body) = server.request("GET", "/v1/namespaces/a/modules/decls", None);
    assert_eq!((status, body["source"].as_str()), (200, Some(decls)));
    // A replaced module answers with its new source; a deleted one is gone.
    server.load("a", "decls", "fn twice(x: i64) -> i64 { x * 2 }");
    assert_eq!(server.request("GET", "/v1/namespaces/a/modules/decls", None).1["functions"], json!(["twice"]));
    assert_eq!(server.request("DELETE", "/v1/namespaces/a/modules/later", None).0, 204);
    let (status, body) = server.request("GET", "/v1/namespaces/a/modules/later", None);
    assert_eq!((status, body["error"]["kind"].as_str()), (404, Some("not_found")));
    let (status, body) = server.request("GET", "/v1/namespaces/nope/modules", None);
    assert_eq!((status, body["error"]["message"].as_str()), (404, Some("no namespace `nope`")));
}

#[test]
fn wrong_methods_and_bad_paths_get_json_errors_too() {
    let server = Server::start(&[]);
    server.load("m", "arith", ARITH);
    for (method, path) in
        [("PUT", "/v1/namespaces/m/modules"), ("GET", "/v1/namespaces/m/call"), ("POST", "/v1/namespaces"), ("PATCH", "/healthz")]
    {
        let (status, body) = server.request(method, path, None);
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["error"]["kind"], "method_not_allowed", "{method} {path}");
        assert_eq!(body["error"]["message"], format!("{path} does not take {method}"));
    }
    let (status, body) = server.request("GET", "/v1/namespaces/%FF/modules", None);
    assert_eq!((status, body["error"]["kind"].as_str()), (400, Some("bad_request")), "{body}");
}

#[test]
fn runaway_code_times_out_and_the_server_stays_usable() {
    let server = Server::start(&[]);
    let source = "
fn spin() { while true {} }
fn boom(n: i64) -> i64 { if n == 0 { 0 } else { boom(n - 1) + boom(n - 1) } }
fn ok() -> i64 { 7 }
";
    assert_eq!(server.load("t", "loops", source).0, 201);
    std::thread::scope(|s| {
        let spinner = s.spawn(|| {
            let started = Instant::now();
            let reply = server.request("POST", "/v1/namespaces/t/call", Some(json!({"function": "spin", "timeout_ms": 300})));
            (reply, started.elapsed())
        });
        // While the loop runs, health checks and other calls are answered.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(server.request("GET", "/healthz", None), (200, json!({"status": "ok"})));
        assert_eq!(server.call("t", "ok", json!([])).1["result"], 7);
        let ((status, body), took) = spinner.join().unwrap();
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["error"]["kind"], "timeout");
        assert!(took >= Duration::from_millis(300), "ended before its deadline: {took:?}");
    });
    // Exponential recursion is interrupted at function entry.
    let (status, body) = server.request("POST", "/v1/namespaces/t/call", Some(json!({"function": "boom", "args": [80], "timeout_ms": 50})));
    assert_eq!((status, body["error"]["kind"].as_str()), (408, Some("timeout")));
    assert_eq!(server.call("t", "ok", json!([])).1["result"], 7);
}

#[test]
fn sixteen_concurrent_callers_get_their_own_results() {
    let server = Server::start(&[]);
    // Sixteen functions, so that compiles of different functions overlap.
    let source: String = (0..16)
        .map(|i| format!("fn f{i}(x: i64) -> i64 {{ var s = 0; var k = 0; while k < x {{ s = s + k * {i}; k = k + 1; }} print(s); s }}\n"))
        .collect();
    assert_eq!(server.load("c", "many", &source).0, 201);
    std::thread::scope(|s| {
        for i in 0..16i64 {
            let server = &server;
            s.spawn(move || {
                for round in 0..20i64 {
                    let x = 100 + round;
                    let (status, body) = server.call("c", &format!("f{i}"), json!([x]));
                    let expected = i * x * (x - 1) / 2;
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["result"], expected);
                    // Each call sees only its own output.
                    assert_eq!(body["stdout"], format!("{expected}\n"));
                }
            });
        }
    });
    let (_, body) = server.request("GET", "/v1/namespaces/c/functions", None);
    let functions = body["functions"].as_array().unwrap();
    assert!(functions.iter().all(|f| f["state"] == "compiled" && f["calls"] == 20), "{body}");
}

#[test]
fn namespaces_are_isolated() {
    let server = Server::start(&[]);
    server.load("a", "m", "fn secret() -> i64 { 1 }\nfn same() -> i64 { 10 }");
    server.load("b", "m", "fn same() -> i64 { 20 }");
    assert_eq!(server.call("a", "same", json!([])).1["result"], 10);
    assert_eq!(server.call("b", "same", json!([])).1["result"], 20);
    assert_eq!(server.call("b", "secret", json!([])).0, 404);
    let (status, body) = server.load("b", "peek", "fn peek() -> i64 { secret() }");
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown function `secret`"), "{body}");
    // Declaring it does not reach the other namespace's definition either.
    assert_eq!(server.load("b", "decl", "fn secret() -> i64;\nfn peek() -> i64 { secret() }").0, 201);
    let (status, body) = server.call("b", "peek", json!([]));
    assert_eq!((status, body["error"]["message"].as_str()), (422, Some("undefined function secret")));
    // Deleting one namespace leaves the other alone.
    assert_eq!(server.request("DELETE", "/v1/namespaces/b", None).0, 204);
    assert_eq!(server.call("a", "secret", json!([])).1["result"], 1);
}

#[test]
fn extern_functions_are_limited_to_the_allow_list() {
    let server = Server::start(&[]);
    let (status, body) = server.load("x", "sys", "extern fn system(cmd: str) -> i32;\nfn run() -> i64 { system(\"true\") }");
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("`extern fn system` is not allowed here"), "{body}");
    let (status, body) = server.load("x", "math", "extern fn labs(x: i64) -> i64;\nfn a(x: i64) -> i64 { labs(x) }");
    assert_eq!(status, 201, "{body}");
    assert_eq!(server.call("x", "a", json!([-5])).1["result"], 5);
    let (status, body) = server.load("x", "py", "fn p() { py_exec(\"print(1)\") }");
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("does not allow Python"), "{body}");
    assert_eq!(server.load("x", "py", "extern fn PyRun_SimpleString(code: str) -> i32;").0, 400);
    let ir = "define i64 @twice(i64 %x) {\n  %r = mul i64 %x, 2\n  ret i64 %r\n}\n";
    let (status, body) =
        server.request("POST", "/v1/namespaces/x/modules", Some(json!({"name": "ir", "source": ir, "language": "llvm-ir"})));
    assert_eq!((status, body["error"]["kind"].as_str()), (403, Some("forbidden")));

    let open = Server::start(&["--allow-extern", "getpid,abs", "--allow-python", "--allow-llvm-ir"]);
    let (status, body) = open.load("x", "pid", "extern fn getpid() -> i32;\nfn pid() -> i64 { getpid() }");
    assert_eq!(status, 201, "{body}");
    assert_eq!(open.call("x", "pid", json!([])).1["result"], open.child.id());
    let (status, body) = open.load("x", "py", "fn p() -> i64 { py_exec(\"print('from python')\"); py_eval_i64(\"6 * 7\") }");
    assert_eq!(status, 201, "{body}");
    let (_, body) = open.call("x", "p", json!([]));
    assert_eq!((body["result"].clone(), body["stdout"].clone()), (json!(42), json!("from python\n")));
    let (status, body) = open.request("POST", "/v1/namespaces/x/modules", Some(json!({"name": "ir", "source": ir, "language": "llvm-ir"})));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["functions"][0]["name"], "twice");
    open.load("x", "use", "extern fn twice(x: i64) -> i64;\nfn g(x: i64) -> i64 { twice(x) + 1 }");
    assert_eq!(open.call("x", "g", json!([20])).1["result"], 41);
    // IR modules are replaced and unloaded like Ore modules.
    let thrice = "define i64 @twice(i64 %x) {\n  %r = mul i64 %x, 3\n  ret i64 %r\n}\n";
    let (status, body) =
        open.request("POST", "/v1/namespaces/x/modules", Some(json!({"name": "ir", "source": thrice, "language": "llvm-ir"})));
    assert_eq!(status, 201, "{body}");
    assert_eq!(open.call("x", "g", json!([20])).1["result"], 61);
    let user = "declare i64 @twice(i64)\ndefine i64 @user(i64 %x) {\n  %r = call i64 @twice(i64 %x)\n  ret i64 %r\n}\n";
    assert_eq!(
        open.request("POST", "/v1/namespaces/x/modules", Some(json!({"name": "user", "source": user, "language": "llvm-ir"}))).0,
        201
    );
    let (status, body) = open.request("DELETE", "/v1/namespaces/x/modules/ir", None);
    assert_eq!((status, body["error"]["kind"].as_str()), (409, Some("conflict")), "{body}");
    assert_eq!(open.request("DELETE", "/v1/namespaces/x/modules/user", None).0, 204);
    assert_eq!(open.request("DELETE", "/v1/namespaces/x/modules/ir", None).0, 204);
    let (status, body) = open.call("x", "g", json!([20]));
    assert_eq!(status, 422);
    assert_eq!(body["error"]["message"], "undefined function twice");
}

#[test]
fn bearer_token_guards_everything_but_healthz() {
    let server = Server::start_with_token(&[], Some("s3cret"));
    assert_eq!(server.load("t", "m", "fn f() -> i64 { 1 }").0, 201);
    assert_eq!(server.call("t", "f", json!([])).1["result"], 1);
    let anonymous = Client { token: None, ..server.client.clone() };
    let (status, body) = anonymous.call("t", "f", json!([]));
    assert_eq!((status, body["error"]["kind"].as_str()), (401, Some("unauthorized")));
    assert_eq!(anonymous.request("GET", "/metrics", None).0, 401);
    assert_eq!(anonymous.request("GET", "/healthz", None).0, 200);
    let wrong = Client { token: Some("s3cres".into()), ..server.client.clone() };
    assert_eq!(wrong.call("t", "f", json!([])).0, 401);

    // Only loopback may go without a token.
    let out = Command::new(env!("CARGO_BIN_EXE_ore")).args(["serve", "--listen", "0.0.0.0:0"]).env_remove("ORE_TOKEN").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen on 0.0.0.0:0 without a token"));
}

#[test]
fn limits_give_clear_errors() {
    let server = Server::start(&[
        "--max-source-bytes",
        "200",
        "--max-nesting",
        "4",
        "--max-functions",
        "3",
        "--max-array-bytes",
        "8000",
        "--max-body-bytes",
        "1000",
        "--max-output-bytes",
        "10",
    ]);
    let (status, body) = server.load("l", "big", &format!("fn f() -> i64 {{ {} }}", "1 + ".repeat(60) + "1"));
    assert_eq!((status, body["error"]["kind"].as_str()), (400, Some("limit")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("over the limit of 200"), "{body}");

    let (status, body) = server.load("l", "deep", "fn f() -> i64 { ((((((1)))))) }");
    assert_eq!((status, body["error"]["kind"].as_str()), (400, Some("compile")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("over the limit of 4"), "{body}");

    assert_eq!(server.load("l", "three", "fn a() {}\nfn b() {}\nfn c() {}").0, 201);
    let (status, body) = server.load("l", "four", "fn d() {}");
    assert_eq!((status, body["error"]["kind"].as_str()), (400, Some("limit")), "{body}");

    server.request("DELETE", "/v1/namespaces/l", None);
    assert_eq!(
        server
            .load(
                "l",
                "arrays",
                "fn alloc(n: i64) -> i64 { let a = [0; n]; len(a) }\nfn chatty() { var i = 0; while i < 100 { print(i); i = i + 1; } }"
            )
            .0,
        201
    );
    assert_eq!(server.call("l", "alloc", json!([900])).1["result"], 900);
    let (status, body) = server.call("l", "alloc", json!([1000]));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["message"], "memory limit exceeded: cannot allocate an array of 1000 elements");
    let (status, body) = server.call("l", "chatty", json!([]));
    assert_eq!(status, 200);
    assert_eq!((body["stdout"].as_str(), body["output_truncated"].as_bool()), (Some("0\n1\n2\n3\n4\n"), Some(true)));

    let (status, body) = server.load("l", "huge", &"x".repeat(2000));
    assert_eq!((status, body["error"]["kind"].as_str()), (413, Some("limit")), "{body}");
}

#[test]
fn modules_survive_a_restart_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ore.db");
    let state = state.to_str().unwrap();
    let server = Server::start(&["--state", state]);
    server.load("p", "a", "fn f() -> i64 { 1 }\nfn g() -> i64 { 2 }");
    server.load("p", "b", "fn g() -> i64 { 20 }");
    server.load("p", "gone", "fn h() -> i64 { 3 }");
    server.load("q", "a", "fn f() -> i64 { 100 }");
    server.load("p", "a", "fn f() -> i64 { 10 }\nfn g() -> i64 { 200 }");
    assert_eq!(server.request("DELETE", "/v1/namespaces/p/modules/gone", None).0, 204);
    let unloaded = server.call("p", "h", json!([]));
    assert_eq!((unloaded.0, unloaded.1["error"]["message"].as_str()), (422, Some("undefined function h")));
    assert!(server.terminate().success());

    let server = Server::start(&["--state", state]);
    let (_, body) = server.request("GET", "/v1/namespaces/p/functions", None);
    let functions = body["functions"].as_array().unwrap();
    assert!(functions.iter().all(|f| f["state"] != "compiled"), "restored lazily: {body}");
    assert_eq!(server.call("p", "f", json!([])).1["result"], 10);
    assert_eq!(server.call("p", "g", json!([])).1["result"], 200);
    // The unloaded module is not restored; its function is known but undefined, as
    // before the restart.
    let restored = server.call("p", "h", json!([]));
    assert_eq!((restored.0, &restored.1["error"]), (unloaded.0, &unloaded.1["error"]));
    assert_eq!(server.call("q", "f", json!([])).1["result"], 100);
}

#[test]
fn sigterm_lets_in_flight_calls_finish() {
    let server = Server::start(&["--grace-ms", "5000"]);
    server.load("g", "m", "fn spin() { while true {} }");
    std::thread::scope(|s| {
        let call = s.spawn(|| server.request("POST", "/v1/namespaces/g/call", Some(json!({"function": "spin", "timeout_ms": 400}))));
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
        let (status, body) = call.join().unwrap();
        assert_eq!((status, body["error"]["kind"].as_str()), (408, Some("timeout")));
    });
    let mut server = server;
    assert!(server.child.wait().unwrap().success());
}

#[test]
fn metrics_are_prometheus_text() {
    let server = Server::start(&[]);
    server.load("m", "arith", ARITH);
    server.call("m", "add", json!([1, 2]));
    server.call("m", "div", json!([1, 0]));
    let (status, body) = server.request("GET", "/metrics", None);
    assert_eq!(status, 200);
    let text = body.as_str().unwrap();
    for line in [
        "ore_calls_total 2",
        "ore_errors_total{kind=\"runtime\"} 1",
        "ore_functions_compiled_total 2",
        "ore_compile_seconds_count 2",
        "ore_compile_seconds_bucket{le=\"+Inf\"} 2",
        "ore_namespaces 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
    let bytes = |name: &str| -> f64 { text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap() };
    assert!(bytes("ore_jit_code_bytes_total ") > 0.0);
    assert!(bytes("ore_resident_memory_bytes ") > 1e6);
}

#[test]
fn a_tiered_server_recompiles_hot_functions_and_counts_them() {
    // Tier-ups compile on the calling thread here, so each call knows its tier.
    let server = Server::start(&["--tier", "auto", "--hot-calls", "3", "--compile-threads", "0"]);
    server.load("m", "arith", ARITH);
    for i in 0..5 {
        let (status, body) = server.call("m", "total", json!([[i, 2, 3]]));
        assert_eq!((status, body["result"].clone()), (200, json!(i + 5)), "{body}");
    }
    // The first call turned it hot (a call and two loop iterations): one tier-up.
    let (_, body) = server.request("GET", "/metrics", None);
    let text = body.as_str().unwrap();
    assert!(text.lines().any(|l| l == "ore_tier_ups_total 1"), "{text}");
    assert!(text.lines().any(|l| l == "ore_functions_compiled_total 1"), "{text}");
}

#[test]
fn load_from_ore_code_grows_the_namespace_and_reports_diagnostics() {
    let server = Server::start(&[]);
    let source = "
fn later(x: i64) -> i64;
fn grow() -> bool { load(\"fn later(x: i64) -> i64 { x * 3 }\") }
fn broken() -> bool { load(\"fn oops( -> i64 { 1 }\") }
fn use_later(x: i64) -> i64 { later(x) }
";
    assert_eq!(server.load("l", "m", source).0, 201);
    assert_eq!(server.call("l", "use_later", json!([2])).0, 422);
    assert_eq!(server.call("l", "grow", json!([])).1["result"], true);
    assert_eq!(server.call("l", "use_later", json!([2])).1["result"], 6);
    let (status, body) = server.call("l", "broken", json!([]));
    assert_eq!((status, body["result"].clone()), (200, json!(false)));
    assert!(body["stderr"].as_str().unwrap().starts_with("<load>:1:10: error:"), "{body}");
    assert!(body.get("stderr").is_some() && server.call("l", "grow", json!([])).1.get("stderr").is_none());
}

/// Hostile and malformed requests: every one gets a JSON error with a 4xx status,
/// and the server keeps serving what was loaded.
#[test]
fn hostile_requests_never_break_the_server() {
    let server = Server::start(&["--max-body-bytes", "100000"]);
    server.load("h", "m", "fn f(x: i64) -> i64 { x + 1 }");
    let deep_json = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let deep_ore = format!("fn g() -> i64 {{ {}1{} }}", "(".repeat(5000), ")".repeat(5000));
    let bodies: Vec<(&str, String)> = vec![
        ("/v1/namespaces/h/call", String::new()),
        ("/v1/namespaces/h/call", "\u{0}\u{1}garbage".into()),
        ("/v1/namespaces/h/call", deep_json.clone()),
        ("/v1/namespaces/h/call", r#"{"function": "f", "args": [99999999999999999999999]}"#.into()),
        ("/v1/namespaces/h/call", r#"{"function": "f", "args": [1e400]}"#.into()),
        ("/v1/namespaces/h/call", r#"{"function": "f", "args": [[1, 2]]}"#.into()),
        ("/v1/namespaces/h/call", r#"{"function": 7}"#.into()),
        ("/v1/namespaces/h/call", r#"{"function": "f", "args": [1], "timeout_ms": -5}"#.into()),
        ("/v1/namespaces/h/modules", r#"{"name": "x", "source": 5}"#.into()),
        ("/v1/namespaces/h/modules", r#"{"name": "../../etc", "source": ""}"#.into()),
        ("/v1/namespaces/h/modules", format!(r#"{{"name": "x", "source": "{}"}}"#, "\\u0000".repeat(100))),
        ("/v1/namespaces/h/modules", serde_json::json!({"name": "deep", "source": deep_ore}).to_string()),
        ("/v1/namespaces/h/modules", r#"{"name": "x", "source": "fn", "opt_level": 9}"#.into()),
        ("/v1/namespaces/h/modules", r#"{"name": "x", "source": "fn", "language": "cobol"}"#.into()),
    ];
    for (path, body) in &bodies {
        let (status, reply) = raw_post(&server, path, body);
        assert!((400..500).contains(&status), "{path} {body:.80}: {status} {reply}");
        assert!(reply["error"]["kind"].is_string(), "{path} {body:.80}: {reply}");
    }
    // Mutations of a valid request, byte by byte.
    let valid = r#"{"function": "f", "args": [41], "timeout_ms": 1000}"#;
    for i in 0..valid.len() {
        for replacement in ["", "\"", "{", "9"] {
            let body = format!("{}{replacement}{}", &valid[..i], &valid[i + 1..]);
            let (status, reply) = raw_post(&server, "/v1/namespaces/h/call", &body);
            assert!(status == 200 || (400..500).contains(&status), "{body}: {status} {reply}");
        }
    }
    assert_eq!(server.call("h", "f", json!([41])).1["result"], 42);
    assert_eq!(server.request("GET", "/healthz", None).0, 200);
}

/// Posts `body` as it is.
fn raw_post(server: &Server, path: &str, body: &str) -> (u16, Value) {
    let response = ureq::post(&format!("{}{path}", server.base)).set("Content-Type", "application/json").send_string(body);
    reply(response, path)
}
