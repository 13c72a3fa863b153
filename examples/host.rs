//! A host program that gives JIT'd Ore code two ways to call back into Rust.
//!
//!     cargo run --example host
//!
//! 1. A closure registered with `Namespace::register` (it may capture state, and
//!    call back into the namespace through a `Caller`).
//! 2. A `#[no_mangle] pub extern "C"` function, exported because the program is
//!    linked with `-rdynamic` (build.rs), which Ore finds by name: no registration.

use ore::{Caller, Config, Namespace, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Route 2: found through the process symbol generator.
#[no_mangle]
pub extern "C" fn host_celsius_to_fahrenheit(c: f64) -> f64 {
    c * 9.0 / 5.0 + 32.0
}

fn main() -> Result<(), ore::Error> {
    let engine = Namespace::new(Config::default())?;

    // Route 1: a closure with state of its own...
    let calls = Arc::new(AtomicI64::new(0));
    let counter = calls.clone();
    engine.register("host_log", move |message: String, value: i64| {
        counter.fetch_add(1, Ordering::Relaxed);
        println!("[host] {message}: {value}");
    })?;
    // ...and one that calls back into the JIT (host -> JIT -> host -> JIT).
    engine.register("host_square_via_ore", |caller: Caller, x: i64| -> Result<i64, ore::Error> {
        match caller.namespace().call("square", &[Value::I64(x)])? {
            Value::I64(v) => Ok(v),
            other => unreachable!("square returns i64, not {other:?}"),
        }
    })?;

    engine.add_module(
        "app",
        r#"
        extern fn host_log(message: str, value: i64);
        extern fn host_square_via_ore(x: i64) -> i64;
        extern fn host_celsius_to_fahrenheit(c: f64) -> f64;

        fn square(x: i64) -> i64 { x * x }

        fn run(n: i64) -> f64 {
            var i = 1;
            while i <= n {
                host_log("square", host_square_via_ore(i));
                i = i + 1;
            }
            host_celsius_to_fahrenheit(100.0)
        }
        "#,
    )?;

    let result = engine.call("run", &[Value::I64(3)])?;
    println!("run(3) = {result}; host_log was called {} times", calls.load(Ordering::Relaxed));
    println!("{:?}", engine.stats());
    Ok(())
}
