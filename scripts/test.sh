#!/usr/bin/env bash
# README command 2 (and .ci/run): install what Ore needs, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
