#!/usr/bin/env bash
# The performance suite: installs what the comparisons need (gcc, a font for the
# plots, llvmlite from PyPI, the release build of the Python package), then
# regenerates docs/PERFORMANCE.md and docs/perf/*.png.
# Takes about 15 minutes on 2 cores; ORE_SUITE_QUICK=1 for a short trial run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if ! dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q "ok installed"; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-dejavu-core >/dev/null
fi
python3 -c "import llvmlite" 2>/dev/null || python3 -m pip install --quiet llvmlite
scripts/python-package.sh --release
cargo bench --bench suite
