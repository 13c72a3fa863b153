//! Link settings for a crate that embeds Ore, in one call from its build.rs:
//!
//! ```no_run
//! // build.rs; Cargo.toml has `ore-build` under [build-dependencies] and `ore` under
//! // [dependencies].
//! fn main() {
//!     ore_build::configure();
//! }
//! ```
//!
//! Cargo applies a crate's link arguments to its own targets only, so these have to
//! come from the embedding crate's build script:
//! - `-rdynamic`, so that JIT'd code finds the binary's `#[no_mangle] extern "C"`
//!   functions by name (ORC's process symbol generator reads the dynamic symbol
//!   table) without registering them;
//! - with Ore's `python` feature, an rpath to the libpython that Ore was built
//!   against, so that the binary loads that one (and not another, or none) when it
//!   runs outside Cargo. Ore's build script passes the directory on as
//!   `DEP_ORE_PYTHON_LIBDIR`, which Cargo shows only to crates that depend on `ore`
//!   directly.

/// Prints the `cargo:` lines that set up linking for every target of the crate
/// whose build script calls it.
pub fn configure() {
    for line in link_lines(std::env::var("DEP_ORE_PYTHON_LIBDIR").ok().as_deref()) {
        println!("{line}");
    }
}

/// The lines `configure` prints, given the Python library directory Ore reported.
fn link_lines(python_libdir: Option<&str>) -> Vec<String> {
    let mut lines = vec!["cargo:rustc-link-arg=-rdynamic".to_string(), "cargo:rerun-if-env-changed=DEP_ORE_PYTHON_LIBDIR".to_string()];
    if let Some(dir) = python_libdir.filter(|d| !d.is_empty()) {
        lines.push(format!("cargo:rustc-link-arg=-Wl,-rpath,{dir}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::link_lines;

    #[test]
    fn exports_symbols_and_records_the_python_libdir() {
        assert_eq!(link_lines(None), ["cargo:rustc-link-arg=-rdynamic", "cargo:rerun-if-env-changed=DEP_ORE_PYTHON_LIBDIR"]);
        let with_python = link_lines(Some("/opt/python/lib"));
        assert_eq!(with_python.last().map(String::as_str), Some("cargo:rustc-link-arg=-Wl,-rpath,/opt/python/lib"));
    }
}
