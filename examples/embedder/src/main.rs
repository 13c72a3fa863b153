//! Embeds Ore: a host function found by name (`#[no_mangle]`, exported by the
//! `-rdynamic` that ore-build sets up), a registered closure that fails for bad
//! input, Python, a typed handle, and output order between Ore and Rust.

use ore::{Config, Engine, Error, RuntimeError};

/// Found by Ore through the process's symbols: no registration.
#[no_mangle]
pub extern "C" fn embedder_triple(x: i64) -> i64 {
    x * 3
}

fn main() -> Result<(), Error> {
    let engine = Engine::new()?;
    let ns = engine.namespace(Config::default())?;
    ns.register("checked_len", |s: String| if s.is_empty() { Err("empty string") } else { Ok(s.len() as i64) })?;
    ns.add_module(
        "app",
        r#"
        extern fn embedder_triple(x: i64) -> i64;
        extern fn checked_len(s: str) -> i64;

        fn run(x: i64, s: str) -> i64 {
            print("from Ore");
            embedder_triple(x) + checked_len(s) + py_eval_i64("6 * 7")
        }
        "#,
    )?;
    let run = ns.func("run")?.typed::<(i64, String), i64>()?;
    let value = run.call((2, "hello".into()))?;
    // Ore prints through C's stdout: flush it before Rust prints, to keep the order.
    ore::output::flush();
    println!("run = {value}");
    match run.call((2, String::new())) {
        Err(Error::Runtime { error: e @ RuntimeError::HostError { .. }, trace }) => {
            ore::output::flush();
            println!("{e}\n{trace}");
        }
        other => panic!("expected a host error, got {other:?}"),
    }
    Ok(())
}
