#!/usr/bin/env bash
# Configures and builds onevisit into build/ (or $ONEVISIT_BUILD_DIR). Extra arguments go to
# CMake, e.g. -DONEVISIT_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ONEVISIT_BUILD_DIR:-build}
build_type=${ONEVISIT_BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
# Two jobs: Spirit X3 translation units take about 1.5 GB each; the machines have 2 cores.
cmake --build "$build_dir" -j "${ONEVISIT_JOBS:-2}"
