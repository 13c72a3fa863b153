#!/usr/bin/env bash
# Checks docs/openapi.json against a running `ore serve` with schemathesis
# (property-based: it generates valid and invalid requests from the description).
# Every answer's status, content type, headers and body must be as described,
# methods the description lacks must get 405 with `Allow`, and nothing may get a
# 5xx; once without a token and once with one (so every endpoint but /healthz
# must refuse a request without it). Not checked: that schema-valid input is
# accepted (`positive_data_acceptance`), since a well-formed module may not
# compile and `timeout_ms` has a configurable maximum.
#   scripts/check-openapi.sh [ORE_BINARY]   (default target/debug/ore)
set -euo pipefail
cd "$(dirname "$0")/.."
ore=$(realpath "${1:-target/debug/ore}")
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -c "import schemathesis" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check "schemathesis>=4.3,<5"

log=$(mktemp)
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -f "$log"' EXIT

# Starts the server on a free port with FLAGS; sets $url.
start() {
    "$ore" serve --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        url=$(sed -n 's/^listening on /http:\/\//p' "$log")
        [ -n "$url" ] && return
        sleep 0.1
    done
    echo "the server did not start:" >&2
    cat "$log" >&2
    exit 1
}

stop() {
    kill "$server"
    wait "$server" || true
    server=""
}

check() {
    python3 -m schemathesis.cli run docs/openapi.json --url "$url" --checks all \
        --exclude-checks positive_data_acceptance --max-examples 50 --seed 1 \
        --generation-database none --no-color "$@" | tail -n 25
}

start
check
stop
start --token secret
check -H "Authorization: Bearer secret"
stop
