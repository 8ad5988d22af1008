#!/usr/bin/env bash
# Fuzzes one target (or all) with AFL++ for a while (docs/fuzzing.md).
#   scripts/fuzz.sh TARGET MINUTES    e.g. scripts/fuzz.sh flow 30
#   scripts/fuzz.sh all MINUTES       every target, as many at once as build jobs (CI: all 0.5)
# Targets: flow http_api receipt_json receipt_xml config_toml.
# ONEVISIT_FUZZ_TIMEOUT_MS (default 2000): how long one input may run before it is a hang.
#
# Builds the fuzz tree (build-fuzz/, or $ONEVISIT_FUZZ_BUILD_DIR: AFL++ instrumentation, ASan +
# UBSan), writes the seeds and dictionaries (scripts/fuzz_seeds.py) and runs afl-fuzz.
# Findings stay in build-fuzz/findings/TARGET/ (crashes/, hangs/, queue/); a second run on
# the same target resumes from its queue. Prints executions, speed, coverage and findings;
# exits 1 when a target crashed (hangs are reported, not failed: a busy machine makes them).
# A crash is reproduced with the replay build: build/fuzz/fuzz_TARGET FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(flow http_api receipt_json receipt_xml config_toml)
if [ $# -ne 2 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [ "$1" = all ]; then targets=("${all_targets[@]}"); else targets=("$1"); fi
for t in "${targets[@]}"; do
  if [[ ! " ${all_targets[*]} " =~ " $t " ]]; then echo "fuzz.sh: no target '$t' (${all_targets[*]})" >&2; exit 2; fi
done
seconds=$(awk -v m="$2" 'BEGIN { s = int(m * 60); if (s < 10) exit 1; print s }') || { echo "fuzz.sh: MINUTES must be a number >= 1/6" >&2; exit 2; }

build_dir=${ONEVISIT_FUZZ_BUILD_DIR:-build-fuzz}
if ! command -v afl-fuzz >/dev/null; then echo "fuzz.sh: afl-fuzz is missing (scripts/setup.sh installs afl++)" >&2; exit 2; fi
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONEVISIT_FUZZ=ON -DONEVISIT_BUILD_TESTS=OFF \
  -DONEVISIT_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
start=$(date +%s)
cmake --build "$build_dir" -j "${ONEVISIT_JOBS:-2}" --target "${targets[@]/#/fuzz_}"
echo "fuzz.sh: fuzz build took $(($(date +%s) - start)) s"

corpus="$build_dir/corpus"
rm -rf "$corpus"
python3 scripts/fuzz_seeds.py "$corpus"

# AFL++ wants sanitizers to abort (so it sees the crash) and not to symbolize (slow).
# Leak checking is off: in persistent mode a process runs thousands of inputs.
export ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=0
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_AUTORESUME=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=${AFL_NO_AFFINITY:-1}
# One target: its afl-fuzz run, its line of the summary in $findings/summary, and a
# non-zero status when it failed or crashed.
fuzz_one() {
  local t=$1 findings="$build_dir/findings/$1"
  mkdir -p "$findings"
  local dict=()
  if [ -f "$corpus/dict/$t.dict" ]; then dict=(-x "$corpus/dict/$t.dict"); fi
  echo "fuzz.sh: $t for $seconds s"
  # -t: an input may take 2 s on a busy machine before it counts as a hang
  # (ONEVISIT_FUZZ_TIMEOUT_MS: longer when the fuzzer runs niced beside builds).
  if ! afl-fuzz -i "$corpus/seeds/$t" -o "$findings" "${dict[@]}" -m none -t "${ONEVISIT_FUZZ_TIMEOUT_MS:-2000}" -V "$seconds" \
    -- "$build_dir/fuzz/fuzz_$t" >"$findings/afl.log" 2>&1; then
    echo "fuzz.sh: afl-fuzz failed on $t:"
    tail -n 30 "$findings/afl.log"
    echo "$t: afl-fuzz failed" >"$findings/summary"
    return 1
  fi
  local stats="$findings/default/fuzzer_stats"
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  local crashes
  crashes=$(get saved_crashes)
  local line="$t: $(get execs_done) executions, $(get execs_per_sec)/s, edges $(get edges_found) ($(get bitmap_cvg)), corpus $(get corpus_count), crashes $crashes, hangs $(get saved_hangs)"
  echo "fuzz.sh: $line"
  echo "$line" >"$findings/summary"
  if [ "${crashes:-0}" != 0 ]; then
    echo "fuzz.sh: $t crashed; inputs in $findings/default/crashes/ (replay: build/fuzz/fuzz_$t FILE)"
    return 1
  fi
}

# As many targets at once as there are build jobs (2 on CI): the same minutes per target in
# half the time on two cores.
parallel=${ONEVISIT_FUZZ_PARALLEL:-${ONEVISIT_JOBS:-2}}
failed=0
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
summary=()
for t in "${targets[@]}"; do summary+=("$(cat "$build_dir/findings/$t/summary" 2>/dev/null || echo "$t: no result")"); done
printf 'fuzz.sh summary:\n'
printf '  %s\n' "${summary[@]}"
exit $failed
