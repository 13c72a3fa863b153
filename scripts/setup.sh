#!/usr/bin/env bash
# README command 1: install what Ore needs, build it and the Python package, and
# run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release
scripts/python-package.sh --release
./target/release/ore run --stats examples/demo.ore
python3 -c 'import ore; jit = ore.Jit(); jit.add_source("m", "fn add(a: i64, b: i64) -> i64 { a + b }"); print("from Python: add(2, 3) =", jit.call("add", 2, 3))'
