#!/usr/bin/env bash
# Compares two `ore` binaries on the benchmark programs, interleaved run by run
# (so machine noise hits both alike): min and median `run_us` of N runs each,
# without and with deadline checks. For changes that must not slow code down:
#   scripts/ab.sh /tmp/before/target/release/ore target/release/ore [N] [PROGRAM...]
set -euo pipefail
before=$(realpath "$1")
after=$(realpath "$2")
runs=${3:-9}
programs=("${@:4}")
[ ${#programs[@]} -eq 0 ] && programs=(fib sieve mandelbrot nbody spectralnorm fannkuch trees tak)
cd "$(dirname "$0")/../benches/programs"
declare -A args=([fib]="35" [sieve]="10000000" [mandelbrot]="1200 800 200" [nbody]="1000000" [spectralnorm]="1000" [fannkuch]="10" [trees]="16" [tak]="10")
run_us() {
    "$@" 2>&1 >/dev/null | python3 -c 'import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])["run_us"])'
}
echo "| program | before min ms | before median | after min ms | after median | after/before (min) |"
echo "| --- | --- | --- | --- | --- | --- |"
for p in "${programs[@]}"; do
    for flags in "" "--timeout 100000"; do
        b=() a=()
        for _ in $(seq "$runs"); do
            # shellcheck disable=SC2086 # the flags and arguments are words
            b+=("$(run_us "$before" run --stats $flags "$p.ore" ${args[$p]})")
            # shellcheck disable=SC2086
            a+=("$(run_us "$after" run --stats $flags "$p.ore" ${args[$p]})")
        done
        python3 - "$p${flags:+ (deadlines)}" "${b[*]}" "${a[*]}" <<'PY'
import statistics, sys
name, b, a = sys.argv[1], sorted(map(int, sys.argv[2].split())), sorted(map(int, sys.argv[3].split()))
print(f"| {name} | {b[0] / 1000:.1f} | {statistics.median(b) / 1000:.1f} | {a[0] / 1000:.1f} | {statistics.median(a) / 1000:.1f} | {a[0] / b[0]:.3f} |")
PY
    done
done
