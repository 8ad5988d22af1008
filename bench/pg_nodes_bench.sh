#!/usr/bin/env bash
# Throughput of 1, 2 and 4 `onevisit serve` nodes on one PostgreSQL cluster through the REST
# API (issue 16; docs/performance.md, PostgreSQL): wrk, keep-alive, one wrk per node at once,
# each on its own case ids; durable case starts, then durable item events (accept) on those
# cases, then case reads. Prints each node's 2xx answers per second (an accept past the
# cases started so far is a 404, left out) with its p99 latency, and their sum.
#   bash bench/pg_nodes_bench.sh [path to onevisit] [seconds per run] [node counts]
# Default binary: build/apps/onevisit; default 10 s per run; default node counts "1 2 4".
# A throwaway cluster (scripts/pg_cluster.sh) lives in a temporary folder for the run; each
# node count gets a database schema of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "${1:-build/apps/onevisit}")
seconds=${2:-10}
counts=${3:-"1 2 4"}
command -v wrk >/dev/null || { echo "pg_nodes_bench: wrk is missing (apt-get install wrk)"; exit 2; }
work=$(mktemp -d /tmp/onevisit-pg-nodes-XXXXXX)
chmod 0755 "$work"
servers=()
stop_nodes() {
  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  servers=()
}
trap 'stop_nodes; bash scripts/pg_cluster.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

url=$(bash scripts/pg_cluster.sh start "$work/pg" | tail -1)
psql_bin=$(ls -d /usr/lib/postgresql/*/bin | head -1)/psql

mkdir "$work/workflows"
cp bench/load.flow "$work/workflows/bench.flow"


echo "cores: $(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for count in $counts; do
  schema="nodes_$count"
  PGOPTIONS=--client-min-messages=warning "$psql_bin" -q "$url" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
  database="$url&options=-csearch_path%3D$schema"
  ports=()
  for node in $(seq "$count"); do
    port=$((18480 + node))
    "$binary" --log-level error serve --db "$database" --workflows "$work/workflows" --listen "127.0.0.1:$port" \
      --threads "${ONEVISIT_BENCH_THREADS:-4}" > "$work/serve-$count-$node.log" 2>&1 &
    servers+=($!)
    ports+=("$port")
    # The first node deploys and makes the admin; the others find them.
    for _ in $(seq 100); do grep -q "listening on" "$work/serve-$count-$node.log" && break; sleep 0.1; done
  done
  password=$(sed -n "s/.*with the password \([0-9a-f]*\).*/\1/p" "$work/serve-$count-1.log")
  read -r clerk_token reviewer_token < <(python3 bench/bench_tokens.py "http://127.0.0.1:${ports[0]}" "$password")
  run() {
    local title=$1 kind=$2 token=$3 path=$4
    local total=0 loads=()
    for node in $(seq "$count"); do
      local args=(--latency -d "${seconds}s" -t2 -c16 -H "Authorization: Bearer $token")
      # bench/case_load.lua; case ids carry the node's number, so nodes never collide.
      [ -n "$kind" ] && args+=(-s bench/case_load.lua)
      ONEVISIT_LOAD_KIND=$kind ONEVISIT_LOAD_PREFIX="N$node-" wrk "${args[@]}" "http://127.0.0.1:${ports[$((node - 1))]}$path" > "$work/wrk-$node.out" &
      loads+=($!)
    done
    wait "${loads[@]}"
    local line="$title, $count node(s):"
    for node in $(seq "$count"); do
      local rate p99 bad
      # Answered 2xx per second: an accept past the cases started so far is a 404, not counted.
      rate=$(awk -v s="$seconds" '/requests in/ {n = $1} /Non-2xx/ {bad = $NF} END {printf "%.0f", (n - bad) / s}' "$work/wrk-$node.out")
      p99=$(awk '$1 == "99%" {print $2}' "$work/wrk-$node.out")
      bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk-$node.out")
      line+=" node $node ${rate:-0}/s (p99 ${p99:-?}${bad:+, non-2xx $bad})"
      total=$(awk -v a="$total" -v b="${rate:-0}" 'BEGIN {print a + b}')
    done
    echo "$line; sum $total/s"
  }
  run "case starts (durable)" start "$clerk_token" ""
  run "item events: accept (durable)" accept "$clerk_token" ""
  run "case reads" "" "$reviewer_token" "/api/cases/N1-T1-2"
  stop_nodes
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
