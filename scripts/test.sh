#!/usr/bin/env bash
# The test job: installs what is missing, builds, and runs every test under ctest.
#   scripts/test.sh              the normal build (what CI runs)
#   scripts/test.sh --sanitize   a separate build with AddressSanitizer + UBSan
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
ctest --test-dir "$build_dir" --output-on-failure -j 2
