fn main() {
    lalrpop::Configuration::new().use_cargo_dir_conventions().process_dir("grammar").expect("grammar/ore.lalrpop");
    // Export the binary's symbols so JIT'd code can reach `#[no_mangle] extern "C"`
    // functions of the host through the process symbol generator. These apply to
    // Ore's own targets only; an embedding crate gets the same from `ore-build`.
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-arg-tests=-rdynamic");
    println!("cargo:rustc-link-arg-examples=-rdynamic");
    println!("cargo:rerun-if-changed=grammar/ore.lalrpop");
    python_rpath();
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
