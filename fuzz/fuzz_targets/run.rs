//! Checked programs run by `ore run` in a subprocess, under a deadline: whatever a
//! program does, `ore` must end with a clean status (0, 1, 2, or 64), never a
//! signal or a panic. `ORE_BIN` names the `ore` binary (default: the release build).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::process::{Command, Stdio};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = ore::SourceFile::from_bytes("fuzz.ore", data.to_vec()) else { return };
    if ore::check_program(&file).is_err() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ore-fuzz-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prog.ore");
    std::fs::write(&path, data).unwrap();
    let bin = std::env::var("ORE_BIN").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/ore").into());
    let out = Command::new(bin).args(["run", "--timeout", "500"]).arg(&path).stdin(Stdio::null()).output().expect("running ore");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let clean = out.status.code().is_some_and(|c| [0, 1, 2, 64].contains(&c)) && !stderr.contains("panicked");
    assert!(clean, "ore run ended with {:?}\n{stderr}", out.status);
});
