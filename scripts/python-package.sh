#!/usr/bin/env bash
# Builds the `ore` Python package (python/) and installs it into this Python.
# `--release` for an optimised build (the set-up command); without it, a debug
# build that compiles faster (the test command).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
fi
# Debian's own Python refuses pip installs outside a virtualenv (PEP 668); this
# package is built for, and installed into, the Python that runs Ore's tests.
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest numpy
rm -rf target/wheels
CARGO_TARGET_DIR=target/python python3 -m maturin build --quiet "$@" --manifest-path python/Cargo.toml --out target/wheels
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/ore-*.whl
