use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::Path;

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
///
/// cc compiles everything each time this script runs, and it runs at every change
/// under `src/` (for the build id): the library is kept while a hash of its
/// sources, flags and compiler settings says it is current.
fn shim() {
    println!("cargo:rerun-if-changed=src/llvm/shim");
    for var in ["LLVM_SYS_191_PREFIX", "CXX", "CXXFLAGS"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
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
    let (cxxflags, rtti) = (config("--cxxflags"), config("--has-rtti"));
    let mut hasher = DefaultHasher::new();
    hash_tree(Path::new("src/llvm/shim"), &mut hasher);
    hash_strings(&[&cxxflags, &rtti], &mut hasher);
    hash_env(|k| ["TARGET", "OPT_LEVEL", "DEBUG", "CXX", "CXXFLAGS"].contains(&k), &mut hasher);
    let stamp = format!("{:016x}", hasher.finish());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let stamp_file = out.join("ore_shim.stamp");
    let current = out.join("libore_shim.a").exists() && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp);
    if !current {
        let mut build = cc::Build::new();
        build.cpp(true).file("src/llvm/shim/memory.cpp").file("src/llvm/shim/codegen.cpp").warnings(false).cargo_metadata(false);
        for flag in cxxflags.split_whitespace() {
            build.flag(flag);
        }
        if rtti != "YES" {
            build.flag("-fno-rtti");
        }
        build.compile("ore_shim");
        std::fs::write(&stamp_file, &stamp).expect("OUT_DIR is writable");
    }
    // What cc prints itself, printed here for a kept library too.
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=ore_shim");
    println!("cargo:rustc-link-lib=stdc++");
}

/// Feeds every file under `path` (or the file itself), in a fixed order, with its
/// path; nothing if it does not exist.
fn hash_tree(path: &Path, hasher: &mut DefaultHasher) {
    if !path.exists() {
        return;
    }
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path).expect("readable source tree").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        entries.iter().for_each(|e| hash_tree(e, hasher));
    } else {
        hasher.write(path.to_string_lossy().as_bytes());
        hasher.write(&std::fs::read(path).expect("readable source file"));
    }
}

fn hash_strings(strings: &[&str], hasher: &mut DefaultHasher) {
    for s in strings {
        hasher.write(s.as_bytes());
        hasher.write_u8(0);
    }
}

/// Feeds the environment variables `wanted` picks, sorted by name.
fn hash_env(wanted: impl Fn(&str) -> bool, hasher: &mut DefaultHasher) {
    let mut vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| wanted(k)).collect();
    vars.sort();
    for (k, v) in vars {
        hash_strings(&[&k, &v], hasher);
    }
}

/// `ORE_BUILD_ID`: a hash of everything that decides what Ore generates (its
/// sources, grammar, lock file, profile and features). The object cache keys on
/// it, so a changed build, even one keeping the version number, never links
/// objects an older one compiled.
fn build_id() {
    let mut hasher = DefaultHasher::new();
    for input in ["src", "grammar", "build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={input}");
        hash_tree(Path::new(input), &mut hasher);
    }
    hash_env(|k| k.starts_with("CARGO_FEATURE_") || k == "PROFILE" || k == "OPT_LEVEL", &mut hasher);
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
