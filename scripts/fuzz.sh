#!/usr/bin/env bash
# Runs Ore's fuzzers for as long as asked, and saves what they find.
#
#   scripts/fuzz.sh differential SECONDS   random programs, reference interpreter vs
#                                           the JIT in all five modes; mismatches are
#                                           saved as tests/differential/cases/seed-N.ore
#   scripts/fuzz.sh parse_check SECONDS    coverage-guided (cargo-fuzz / libFuzzer):
#   scripts/fuzz.sh compile SECONDS        source -> checker; -> eager compile with the
#   scripts/fuzz.sh run SECONDS            IR verifier; -> `ore run` under a deadline
#
# Crashes of the coverage-guided targets land in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: scripts/fuzz.sh differential|parse_check|compile|run SECONDS}
seconds=${2:-60}

if [ "$what" = differential ]; then
    cargo test --release --test differential --no-run >/dev/null 2>&1 || cargo test --release --test differential --no-run
    end=$(( $(date +%s) + seconds ))
    seed=$(( $(date +%s) * 1000 ))
    total=0
    while [ "$(date +%s)" -lt "$end" ]; do
        ORE_FUZZ_PROGRAMS=500 ORE_FUZZ_SEED=$seed ORE_FUZZ_ALL_MODES=1 ORE_FUZZ_SAVE=tests/differential/cases \
            cargo test -q --release --test differential generated -- --nocapture 2>&1 | grep -E "programs from seed|disagree" || true
        seed=$(( seed + 500 )); total=$(( total + 500 ))
    done
    echo "$total programs run; mismatches (if any) saved in tests/differential/cases/"
    exit 0
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
# cargo-fuzz needs nightly features; the stable toolchain provides them this way.
export RUSTC_BOOTSTRAP=1
# libpython's directory (pyenv's, say) for the fuzz binaries, which lack Ore's rpath.
LD_LIBRARY_PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
if [ "$what" = run ]; then
    cargo build --release
    export ORE_BIN="$PWD/target/release/ore"
fi
corpus="fuzz/corpus/$what"
if [ ! -d "$corpus" ]; then
    mkdir -p "$corpus"
    cp tests/conformance/*.ore examples/*.ore benches/programs/*.ore "$corpus"/
fi
cd fuzz
cargo fuzz run "$what" "../$corpus" -- -max_total_time="$seconds" -max_len=4096 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
