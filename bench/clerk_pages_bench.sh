#!/usr/bin/env bash
# The clerk console's pages on a district-sized database: fills `onevisit serve` (SQLite, the
# bundled workflows) with N restaurant-opening cases through the API, then measures the
# requests one case page and one worklist page make, the searches (a name, the last 4 digits
# of an ID number, a case number) and each worklist tab with its counts, one at a time (the
# latency a clerk sees) and 16 at once (a busy service centre). Issue 14's target: each under
# 50 ms at 100,000 cases. Every case has its own names and numbers (valid ID numbers), so a
# search finds what it would in a district, not all 100,000.
#   bash bench/clerk_pages_bench.sh [path to onevisit] [cases] [seconds per run]
# Default binary: build-bench/apps/onevisit (bench/run.sh builds it); default 100000 cases.
# Keep the database for further runs: ONEVISIT_BENCH_KEEP=folder (reused when it holds one).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build-bench/apps/onevisit}
cases=${2:-100000}
seconds=${3:-10}
command -v wrk >/dev/null || { echo "clerk_pages_bench: wrk is missing (apt-get install wrk)"; exit 2; }
work=${ONEVISIT_BENCH_KEEP:-$(mktemp -d)}
mkdir -p "$work"
port=${ONEVISIT_BENCH_PORT:-18381}
cleanup() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  [ -n "${ONEVISIT_BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

"$binary" --log-level error serve --db "$work/cases.db" --workflows workflows --listen "127.0.0.1:$port" \
  --threads "${ONEVISIT_BENCH_THREADS:-4}" > "$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -s -o /dev/null "$base/api/session" && break; sleep 0.1; done
password=$(sed -n "s/.*with the password \([0-9a-f]*\).*/\1/p" "$work/serve.log")
[ -n "$password" ] || password=$(cat "$work/admin-password" 2>/dev/null || true)
[ -n "$password" ] || { echo "clerk_pages_bench: no admin password in $work/serve.log"; exit 1; }
echo "$password" > "$work/admin-password"

# Users and their API tokens (made again on a kept database: tokens are new each run).
read -r clerk_token reviewer_token < <(python3 bench/bench_tokens.py "$base" "$password")

# Fill: case starts through the API, 16 at a time, each with its own id and company name.
fill() {
  python3 - "$base" "$clerk_token" "$cases" <<'PY'
import http.client, json, sys, threading, urllib.parse
base, token, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = urllib.parse.urlsplit(base)
connections = 16
failures = []
sys.path.insert(0, "bench")
from bench_people import person
def worker(slot):
    conn = http.client.HTTPConnection(host.hostname, host.port)
    for n in range(slot, total, connections):
        name, id_number, phone = person(n)
        body = {"bundle": "restaurant_opening", "case_id": f"R{n}", "form": {
            "company_name": f"小馆{n}", "uscc": "91350100M000100Y43", "legal_rep_name": name,
            "legal_rep_id": id_number, "legal_rep_phone": phone,
            "business_address": "某某区某某路1号", "shop_name": "小馆", "food_categories": "hot", "seats": 20,
            "sign_area_m2": 2, "area_m2": 80 + n % 500, "has_outdoor_sign": True, "fire_by_pledge": True,
            "sells_tobacco": False}}
        conn.request("POST", "/api/cases", json.dumps(body), {"Content-Type": "application/json",
                     "Authorization": "Bearer " + token, "Idempotency-Key": f"fill-{n}"})
        answer = conn.getresponse()
        text = answer.read()
        if answer.status not in (200, 201):
            failures.append((n, answer.status, text[:300]))
            if len(failures) > 5: return
threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(connections)]
for t in threads: t.start()
for t in threads: t.join()
if failures:
    print("clerk_pages_bench: case starts failed:", failures[:3], file=sys.stderr)
    sys.exit(1)
PY
}
if [ ! -f "$work/filled-$cases" ]; then
  start=$(date +%s)
  echo "== filling $cases restaurant cases (16 connections)"
  fill
  elapsed=$(( $(date +%s) - start ))
  echo "   filled in $elapsed s ($(( cases / (elapsed > 0 ? elapsed : 1) )) cases/s); folder $(du -sh "$work" | cut -f1)"
  touch "$work/filled-$cases"
fi

# One case page is what the console asks for a case; the worklist page is the first 50 entries.
case_id=R$((cases / 2))
curl -sf -H "Authorization: Bearer $clerk_token" "$base/api/cases/$case_id" > /dev/null || { echo "clerk_pages_bench: case $case_id was not made"; exit 1; }
run() {
  local title=$1; shift
  echo "== $title"
  wrk --latency -d "${seconds}s" "$@" | grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx"
}
# What the searches look for: case R<half>'s legal representative (a two-character name
# beginning shared by about one case in a hundred, and the last 4 digits of the ID number,
# shared by about ten), its company name, and a case with a generated number.
read -r name_prefix id_tail < <(python3 -c "import sys; sys.path.insert(0, 'bench'); from bench_people import person; n, i, _ = person($((cases / 2))); print(n[:2], i[-4:])")
numbered=$(curl -sf -H "Authorization: Bearer $clerk_token" -H "Content-Type: application/json" -X POST "$base/api/cases" \
  -d '{"bundle":"restaurant_opening","form":{"company_name":"编号测试餐馆","uscc":"91350100M000100Y43","legal_rep_name":"王小明","legal_rep_id":"11010519491231002X","legal_rep_phone":"13800138000","business_address":"某某区某某路1号","shop_name":"小馆","food_categories":"hot","seats":20,"sign_area_m2":2,"area_m2":80,"has_outdoor_sign":true,"fire_by_pledge":true,"sells_tobacco":false}}' \
  | python3 -c "import json, sys; print(json.load(sys.stdin)['case_id'])")
urlencode() { python3 -c "import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))" "$1"; }
q_name=$(urlencode "$name_prefix")
q_company=$(urlencode "小馆$((cases / 2))")
for connections in 1 16; do
  threads=$(( connections < 2 ? 1 : 2 ))
  echo "#### $connections connection(s)"
  run "case view" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases/$case_id"
  run "case history" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases/$case_id/history"
  run "case calls" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases/$case_id/calls"
  run "the case's workflow" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/workflows/restaurant_opening"
  run "worklist, market reviewer (50 entries)" -t$threads -c$connections -H "Authorization: Bearer $reviewer_token" "$base/api/worklist?limit=50"
  run "worklist, window clerk (50 entries)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/worklist?limit=50"
  run "case list (50, newest first)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50"
  run "search: name beginning $name_prefix (50)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&q=$q_name"
  run "search: company name" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&q=$q_company"
  run "search: last 4 of an ID number" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&q=$id_tail"
  run "search: case number $numbered" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&q=$numbered"
  run "search: trailing digits of a case number" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&q=${numbered##*-}"
  run "tab 我办过的, window clerk (50)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&done_by=me"
  run "tab 我办过的, market reviewer (50)" -t$threads -c$connections -H "Authorization: Bearer $reviewer_token" "$base/api/cases?limit=50&done_by=me"
  run "tab 全部办件, market reviewer (50)" -t$threads -c$connections -H "Authorization: Bearer $reviewer_token" "$base/api/cases?limit=50"
  run "tab 已超期, window clerk (50)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/worklist?limit=50&overdue=1"
  run "tab 待送达 (50)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&status=completed"
  run "tab 待评价 (50)" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/cases?limit=50&status=delivered"
  run "tab counts, window clerk" -t$threads -c$connections -H "Authorization: Bearer $clerk_token" "$base/api/worklist/counts"
  run "tab counts, market reviewer" -t$threads -c$connections -H "Authorization: Bearer $reviewer_token" "$base/api/worklist/counts"
done
