//! The documentation that ships in this repository stays true.

use std::path::Path;

/// docs/LANGUAGE.md is the repository's copy of the project's shared language
/// contract (`../shared/LANGUAGE.md`, beside the clone in CI); they must not drift.
/// A missing contract fails the test: comparing nothing proves nothing.
#[test]
fn language_reference_matches_the_shared_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = std::fs::read_to_string(root.join("docs/LANGUAGE.md")).expect("docs/LANGUAGE.md");
    assert!(ours.contains("# The Ore language"), "docs/LANGUAGE.md is not the language reference");
    let shared = std::fs::read_to_string(root.join("../shared/LANGUAGE.md"))
        .unwrap_or_else(|e| panic!("../shared/LANGUAGE.md, the contract docs/LANGUAGE.md copies: {e}"));
    assert_eq!(ours, shared, "docs/LANGUAGE.md differs from ../shared/LANGUAGE.md: copy it again");
}
