//! `ore serve --state`: what a restart restores must equal what was there before,
//! whatever order modules were added, replaced and deleted in, whatever raced, and
//! however the server died (the reliability issue, items 11 to 13).

mod common;

use common::rng::Rng;
use common::server::Server;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What a client can observe of a namespace: each function's name, signature and
/// whether it has a definition, and what calling it gives.
fn observe(server: &Server, ns: &str) -> Option<BTreeMap<String, (Value, bool, Value)>> {
    let (status, body) = server.request("GET", &format!("/v1/namespaces/{ns}/functions"), None);
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{body}");
    let mut seen = BTreeMap::new();
    for f in body["functions"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap().to_string();
        let defined = f["state"] != "undefined";
        let (status, reply) = server.call(ns, &name, json!([]));
        let outcome = if status == 200 { reply["result"].clone() } else { reply["error"]["message"].clone() };
        seen.insert(name, (f["signature"].clone(), defined, outcome));
    }
    Some(seen)
}

fn state_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ore.db").to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn a_replaced_module_does_not_lose_the_modules_that_call_it() {
    let (_dir, state) = state_file();
    let server = Server::start(&["--state", &state]);
    assert_eq!(server.load("n", "a", "fn f() -> i64 { 1 }").0, 201);
    assert_eq!(server.load("n", "b", "fn g() -> i64 { f() + 100 }").0, 201);
    assert_eq!(server.load("n", "a", "fn f() -> i64 { 2 }").0, 201);
    assert_eq!(server.load("u", "a", "fn f() -> i64 { 1 }").0, 201);
    assert_eq!(server.load("u", "b", "fn g() -> i64 { f() + 100 }").0, 201);
    assert_eq!(server.request("DELETE", "/v1/namespaces/u/modules/a", None).0, 204);
    let before = (observe(&server, "n"), observe(&server, "u"));
    assert_eq!(server.call("n", "g", json!([])).1["result"], 102);
    assert!(server.terminate().success());

    let server = Server::start(&["--state", &state]);
    assert_eq!((observe(&server, "n"), observe(&server, "u")), before);
    assert_eq!(server.call("n", "g", json!([])).1["result"], 102);
    assert_eq!(server.call("u", "g", json!([])).1["error"]["message"], "undefined function f");
}

#[test]
fn random_histories_survive_a_restart() {
    let (_dir, state) = state_file();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let namespaces = ["x", "y", "z"];
    let mut server = Server::start(&["--state", &state]);
    for round in 0..4 {
        for _ in 0..40 {
            let ns = namespaces[rng.below(3) as usize];
            let module = format!("m{}", rng.below(4));
            match rng.below(10) {
                0 => drop(server.request("DELETE", &format!("/v1/namespaces/{ns}"), None)),
                1 | 2 => drop(server.request("DELETE", &format!("/v1/namespaces/{ns}/modules/{module}"), None)),
                _ => {
                    // Definitions of some of f0..f4, some calling others (which must
                    // be known already, or declared here, or the add fails: fine).
                    let mut source = String::new();
                    for f in 0..5 {
                        match rng.below(4) {
                            0 => source.push_str(&format!("fn f{f}() -> i64 {{ {} }}\n", rng.below(1000))),
                            1 => source.push_str(&format!("fn f{f}() -> i64 {{ f{}() + {} }}\n", rng.below(5), rng.below(10))),
                            2 if rng.below(2) == 0 => source.push_str(&format!("fn f{f}() -> i64;\n")),
                            _ => {}
                        }
                    }
                    let (status, body) = server.load(ns, &module, &source);
                    assert!(status == 201 || status == 400, "{status} {body}");
                }
            }
        }
        let before: Vec<_> = namespaces.iter().map(|ns| observe(&server, ns)).collect();
        assert!(server.terminate().success());
        server = Server::start(&["--state", &state]);
        let after: Vec<_> = namespaces.iter().map(|ns| observe(&server, ns)).collect();
        assert_eq!(after, before, "round {round}: the restored state differs");
    }
}

#[test]
fn adding_a_module_races_deleting_its_namespace_linearisably() {
    let (_dir, state) = state_file();
    let server = Server::start(&["--state", &state]);
    let races = 100;
    for i in 0..races {
        assert_eq!(server.load(&format!("r{i}"), "first", "fn a() -> i64 { 1 }").0, 201);
    }
    let adders: Vec<_> = (0..2)
        .map(|half| {
            let client = server.client.clone();
            std::thread::spawn(move || {
                for i in (half..races).step_by(2) {
                    client.load(&format!("r{i}"), "second", "fn b() -> i64 { 2 }");
                }
            })
        })
        .collect();
    let deleter = {
        let client = server.client.clone();
        std::thread::spawn(move || {
            for i in 0..races {
                client.request("DELETE", &format!("/v1/namespaces/r{i}"), None);
            }
        })
    };
    adders.into_iter().for_each(|t| t.join().unwrap());
    deleter.join().unwrap();
    let before: Vec<_> = (0..races).map(|i| observe(&server, &format!("r{i}"))).collect();
    assert!(server.terminate().success());
    let server = Server::start(&["--state", &state]);
    let after: Vec<_> = (0..races).map(|i| observe(&server, &format!("r{i}"))).collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(a, b, "namespace r{i}: memory and the state file disagree");
    }
}

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let (_dir, state) = state_file();
    let mut acknowledged: BTreeMap<String, bool> = BTreeMap::new(); // module -> present
                                                                    // The write in flight at each kill: it may or may not have landed.
    let mut in_flight: Vec<String> = Vec::new();
    let mut rng = Rng::new(42);
    let mut next = 0;
    for round in 0..5 {
        let server = Server::start(&["--state", &state]);
        // What the last kill left must be exactly what was acknowledged.
        let (_, body) = server.request("GET", "/v1/namespaces/chaos/functions", None);
        let present: Vec<String> = body["functions"]
            .as_array()
            .map(|fs| fs.iter().filter(|f| f["state"] != "undefined").map(|f| f["name"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        for (module, alive) in acknowledged.iter().filter(|(m, _)| !in_flight.contains(m)) {
            let function = module.replace('m', "f");
            assert_eq!(
                present.contains(&function),
                *alive,
                "round {round}: {module} should be {}",
                if *alive { "present" } else { "gone" }
            );
        }
        // Nothing that was never asked for.
        let unasked: Vec<&String> = present
            .iter()
            .filter(|f| {
                let module = f.replace('f', "m");
                !acknowledged.contains_key(&module) && !in_flight.contains(&module)
            })
            .collect();
        assert!(unasked.is_empty(), "round {round}: present, but nobody asked for them: {unasked:?}");
        let writer = {
            let client = server.client.clone();
            let first = next;
            std::thread::spawn(move || {
                let mut done = Vec::new();
                for k in first..first + 400 {
                    let deleting = k % 5 == 4 && k > first;
                    let (module, ok) = if deleting {
                        let victim = format!("m{}", k - 1);
                        let path = format!("/v1/namespaces/chaos/modules/{victim}");
                        let status = std::panic::catch_unwind(|| client.request("DELETE", &path, None).0);
                        (victim, status.ok() == Some(204))
                    } else {
                        let source = format!("fn f{k}() -> i64 {{ {k} }}");
                        let status = std::panic::catch_unwind(|| client.load("chaos", &format!("m{k}"), &source).0);
                        (format!("m{k}"), status.ok() == Some(201))
                    };
                    if !ok {
                        return (done, module);
                    }
                    done.push((module, !deleting));
                }
                (done, String::new())
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50 + rng.below(250)));
        server.kill();
        let (done, pending) = writer.join().unwrap();
        for (module, alive) in done {
            acknowledged.insert(module, alive);
        }
        in_flight.push(pending);
        next += 400;
    }
    assert!(acknowledged.len() > 20, "too few writes before the kills: {}", acknowledged.len());
}
