fn main() {
    lalrpop::Configuration::new().use_cargo_dir_conventions().process_dir("grammar").expect("grammar/ore.lalrpop");
    // Export the binary's symbols so JIT'd code can reach `#[no_mangle] extern "C"`
    // functions of the host through the process symbol generator. These apply to
    // Ore's own targets only; an embedding crate gets the same from `ore-build`.
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-arg-tests=-rdynamic");
    println!("cargo:rustc-link-arg-examples=-rdynamic");
    println!("cargo:rerun-if-changed=grammar/ore.lalrpop");
    build_id();
    python_rpath();
}

/// `ORE_BUILD_ID`: a hash of everything that decides what Ore generates (its
/// sources, grammar, lock file, profile and features). The object cache keys on
/// it, so a changed build, even one keeping the version number, never links
/// objects an older one compiled.
fn build_id() {
    use std::hash::Hasher;
    fn walk(path: &std::path::Path, hasher: &mut std::collections::hash_map::DefaultHasher) {
        if !path.exists() {
            return;
        }
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path).expect("readable source tree").map(|e| e.expect("entry").path()).collect();
            entries.sort();
            entries.iter().for_each(|e| walk(e, hasher));
        } else {
            hasher.write(path.to_string_lossy().as_bytes());
            hasher.write(&std::fs::read(path).expect("readable source file"));
        }
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for input in ["src", "grammar", "build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={input}");
        walk(std::path::Path::new(input), &mut hasher);
    }
    let mut settings: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("CARGO_FEATURE_") || k == "PROFILE" || k == "OPT_LEVEL").collect();
    settings.sort();
    for (k, v) in settings {
        hasher.write(k.as_bytes());
        hasher.write(v.as_bytes());
    }
    println!("cargo:rustc-env=ORE_BUILD_ID={:016x}", hasher.finish());
}

/// libpython is linked dynamically (pyo3), but the interpreter's LIBDIR (pyenv's,
/// say) need not be on the loader's path: record it, from the same interpreter
/// configuration pyo3 links against, for Ore's targets and (as DEP_ORE_PYTHON_LIBDIR)
/// for the build scripts of crates that depend on Ore.
#[cfg(feature = "python")]
fn python_rpath() {
    if let Some(lib_dir) = &pyo3_build_config::get().lib_dir {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
        println!("cargo:python_libdir={lib_dir}");
    }
}

#[cfg(not(feature = "python"))]
fn python_rpath() {}
