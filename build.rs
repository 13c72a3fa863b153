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
    shim();
    python_rpath();
}

/// The C++ shim (`src/llvm/shim/`), for what LLVM's C API cannot do: compiled
/// against the headers of the LLVM that llvm-sys links (its `llvm-config`), with
/// that LLVM's own C++ flags, so the two agree on the ABI.
fn shim() {
    println!("cargo:rerun-if-changed=src/llvm/shim");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_191_PREFIX");
    let config = |arg: &str| -> String {
        let prefix = std::env::var("LLVM_SYS_191_PREFIX").ok().map(|p| format!("{p}/bin/llvm-config"));
        for tool in prefix.iter().map(String::as_str).chain(["llvm-config-19", "llvm-config"]) {
            if let Ok(out) = std::process::Command::new(tool).arg(arg).output() {
                if out.status.success() {
                    return String::from_utf8(out.stdout).expect("llvm-config prints UTF-8").trim().to_string();
                }
            }
        }
        panic!("llvm-config for LLVM 19 not found (install llvm-19-dev, or set LLVM_SYS_191_PREFIX)");
    };
    let mut build = cc::Build::new();
    build.cpp(true).file("src/llvm/shim/memory.cpp").file("src/llvm/shim/codegen.cpp").warnings(false);
    for flag in config("--cxxflags").split_whitespace() {
        build.flag(flag);
    }
    if config("--has-rtti") != "YES" {
        build.flag("-fno-rtti");
    }
    build.compile("ore_shim");
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
