#!/usr/bin/env bash
# README command 2 (and .ci/run): install what Ore needs, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --check
cargo fmt --check --manifest-path ore-build/Cargo.toml
cargo fmt --check --manifest-path examples/embedder/Cargo.toml
cargo fmt --check --manifest-path python/Cargo.toml
cargo fmt --check --manifest-path fuzz/Cargo.toml
cargo clippy --all-targets -- -D warnings
# The library as an embedder builds it: without the server and CLI, with and
# without Python.
cargo clippy --lib --no-default-features -- -D warnings
cargo clippy --lib --no-default-features --features python -- -D warnings
CARGO_TARGET_DIR=target/ore-build cargo test --manifest-path ore-build/Cargo.toml
# The fuzz targets (scripts/fuzz.sh) build against the current API: they had
# drifted from it once, unnoticed, since nothing else compiles them.
CARGO_TARGET_DIR=target/fuzz cargo clippy --manifest-path fuzz/Cargo.toml -- -D warnings
cargo test
scripts/check-openapi.sh
# The Python package, built from this tree and installed, then its tests.
CARGO_TARGET_DIR=target/python cargo clippy --manifest-path python/Cargo.toml -- -D warnings
scripts/python-package.sh
(cd python && python3 -m pytest -q tests)
