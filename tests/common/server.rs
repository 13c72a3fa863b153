//! A real `ore serve` on an ephemeral loopback port, and a client (ureq) for it.
#![allow(dead_code)] // each test binary uses a different part

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub child: Child,
    pub client: Client,
    /// `ip:port` it listens on.
    pub address: String,
}

/// Talks to a server, with or without a token.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub token: Option<String>,
}

impl std::ops::Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Server {
    pub fn start(flags: &[&str]) -> Server {
        Server::start_with_token(flags, None)
    }

    pub fn start_with_token(flags: &[&str], token: Option<&str>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ore"));
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(flags).env_remove("ORE_TOKEN").env_remove("ORE_CACHE_DIR");
        if let Some(t) = token {
            command.env("ORE_TOKEN", t);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("ore serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let client = Client { base: format!("http://{address}"), token: token.map(str::to_string) };
        Server { child, client, address: address.to_string() }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }

    /// SIGKILL: the crash a state file must survive.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Client {
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            request = request.set("Authorization", &format!("Bearer {t}"));
        }
        let response = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        reply(response, &format!("{method} {path}"))
    }

    pub fn load(&self, ns: &str, name: &str, source: &str) -> (u16, Value) {
        self.request("POST", &format!("/v1/namespaces/{ns}/modules"), Some(json!({"name": name, "source": source})))
    }

    pub fn call(&self, ns: &str, function: &str, args: Value) -> (u16, Value) {
        self.request("POST", &format!("/v1/namespaces/{ns}/call"), Some(json!({"function": function, "args": args})))
    }

    pub fn call_with_timeout(&self, ns: &str, function: &str, args: Value, timeout_ms: u64) -> (u16, Value) {
        let body = json!({"function": function, "args": args, "timeout_ms": timeout_ms});
        self.request("POST", &format!("/v1/namespaces/{ns}/call"), Some(body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status and body of a reply, error statuses included; a body that is not
/// JSON becomes a JSON string.
pub fn reply(response: Result<ureq::Response, ureq::Error>, what: &str) -> (u16, Value) {
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{what}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}
