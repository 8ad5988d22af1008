#!/usr/bin/env bash
# The test job: installs what is missing, builds, and runs every test under ctest.
#   scripts/test.sh              the normal build (what CI runs)
#   scripts/test.sh --sanitize   a separate build with AddressSanitizer + UBSan
# The normal job also runs a short fuzz run, before ctest: each fuzz target for half a minute under
# AFL++ (scripts/fuzz.sh all 0.5, its own build in build-fuzz/); a crash fails the job. Half a
# minute keeps CI (2 cores, 25 minutes) in time; the regression inputs replay under ctest anyway.
# ONEVISIT_FUZZ_MINUTES changes the minutes per target (0.5, 1, 30 …; 0: no fuzz run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake_args=()
if [ "${1:-}" = "--sanitize" ]; then
  export ONEVISIT_BUILD_DIR=${ONEVISIT_BUILD_DIR:-build-sanitize}
  export ONEVISIT_BUILD_TYPE=Debug
  cmake_args+=(-DONEVISIT_SANITIZE=ON -DONEVISIT_BUILD_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
bash scripts/build.sh "${cmake_args[@]}"
build_dir=${ONEVISIT_BUILD_DIR:-build}
# The fuzz run comes first so that ctest's summary closes the output.
if [ "${1:-}" != "--sanitize" ] && [ "${ONEVISIT_FUZZ_MINUTES:-0.5}" != 0 ]; then
  bash scripts/fuzz.sh all "${ONEVISIT_FUZZ_MINUTES:-0.5}"
fi
ctest --test-dir "$build_dir" --output-on-failure -j 2
