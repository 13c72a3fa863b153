#!/usr/bin/env bash
# Builds the `ore` Python package (python/) and installs it into this Python.
# `--release` for an optimised build (the set-up command); without it, a debug
# build that compiles faster (the test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest
rm -rf target/wheels
CARGO_TARGET_DIR=target/python python3 -m maturin build --quiet "$@" --manifest-path python/Cargo.toml --out target/wheels
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/ore-*.whl
