//! The example embedding crate (examples/embedder) builds as an embedder's crate
//! would (Ore without server and CLI, with Python, and ore-build's link settings)
//! and runs on its own, outside Cargo: `#[no_mangle]` lookup, Python, a fallible
//! host function and the order of Ore's and Rust's output all work.

use std::path::Path;
use std::process::Command;

#[test]
fn the_example_embedding_crate_builds_and_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A target directory of its own: this test's own build holds the main one.
    let target = root.join("target").join("embedder");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("examples/embedder/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    assert!(build.status.success(), "the example does not build:\n{}", String::from_utf8_lossy(&build.stderr));

    // Run directly, with nothing on the loader's path: the binary must find its
    // libpython through the rpath ore-build recorded.
    let run = Command::new(target.join("debug/ore-embedder-example")).env_remove("LD_LIBRARY_PATH").output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "exit {:?}\n{stdout}\n{}", run.status, String::from_utf8_lossy(&run.stderr));
    assert_eq!(stdout, "from Ore\nrun = 53\nfrom Ore\nhost function `checked_len` failed: empty string\n  at run (app:7:34)\n");
}
