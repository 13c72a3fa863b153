//! The checker, data-driven and in process (no LLVM, no subprocess): every
//! `tests/check/*.ore` program must fail to check, and each `// stderr: TEXT` line
//! written in it must appear in the rendered diagnostics, which are exactly what
//! `ore run` and `ore check` print. (`tests/cli.rs` checks the exit status 1.)

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;

fn check_case(path: &Path) -> Result<(), Failed> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let source = String::from_utf8_lossy(&bytes).into_owned();
    let wanted: Vec<&str> = source.lines().filter_map(|l| l.trim_start().strip_prefix("// stderr:")).map(str::trim).collect();
    if wanted.is_empty() {
        return Err(format!("{name} says nothing it expects (`// stderr: TEXT`)").into());
    }
    let rendered = match ore::SourceFile::from_bytes(&name, bytes).and_then(|file| ore::check_program(&file)) {
        Ok(()) => return Err(format!("{name} checked, but it must not").into()),
        Err(e) => e.to_string(),
    };
    for want in wanted {
        if !rendered.contains(want) {
            return Err(format!("the diagnostics lack `{want}`:\n{rendered}").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("tests/check exists").map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() > 40, "the checker cases went missing");
    let trials = files
        .into_iter()
        .map(|path| Trial::test(path.file_stem().unwrap().to_string_lossy().into_owned(), move || check_case(&path)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
