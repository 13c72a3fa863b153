#!/usr/bin/env bash
# README command 1: install what Ore needs, build it, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release
./target/release/ore run --stats examples/demo.ore
