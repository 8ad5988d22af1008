#!/usr/bin/env bash
# Load test of `onevisit serve` on loopback with wrk: worklist and case reads, then durable
# commands (case starts and item events), each over API tokens (no cookies, no CSRF).
#   bash bench/server_bench.sh [path to onevisit] [seconds per run]
# Default binary: build-bench/apps/onevisit (bench/run.sh builds it). Prints wrk's figures
# (requests/s, latency percentiles); non-2xx answers are reported by wrk and counted out.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build-bench/apps/onevisit}
seconds=${2:-10}
command -v wrk >/dev/null || { echo "server_bench: wrk is missing (apt-get install wrk)"; exit 2; }
work=$(mktemp -d)
port=${ONEVISIT_BENCH_PORT:-18380}
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir "$work/workflows"
cp bench/load.flow "$work/workflows/bench.flow"
"$binary" --log-level error serve --db "$work/cases.db" --workflows "$work/workflows" --listen "127.0.0.1:$port" \
  --threads "${ONEVISIT_BENCH_THREADS:-4}" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q "with the password" "$work/serve.log" && break; sleep 0.1; done
password=$(sed -n "s/.*with the password \([0-9a-f]*\).*/\1/p" "$work/serve.log")
base="http://127.0.0.1:$port"

# Users and their API tokens, through the API.
read -r clerk_token reviewer_token < <(python3 bench/bench_tokens.py "$base" "$password")


run() {
  local title=$1; shift
  echo "== $title"
  wrk --latency -d "${seconds}s" "$@" | grep -E "Requests/sec|Latency Distribution|^ +(50|90|99)%|requests in|Non-2xx"
}
run "case starts (durable), clerk token" -t2 -c16 -H "Authorization: Bearer $clerk_token" -s bench/case_load.lua "$base"
ONEVISIT_LOAD_KIND=accept run "item events: accept (durable), clerk token" -t2 -c16 -H "Authorization: Bearer $clerk_token" -s bench/case_load.lua "$base"
run "worklist reads (market, 50 entries)" -t2 -c16 -H "Authorization: Bearer $reviewer_token" "$base/api/worklist?limit=50"
# (wrk builds one request per thread before the run starts, so each thread's first id is skipped)
run "case reads" -t2 -c16 -H "Authorization: Bearer $reviewer_token" "$base/api/cases/T1-2"
