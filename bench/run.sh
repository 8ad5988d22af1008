#!/usr/bin/env bash
# Builds an optimised tree in build-bench/ and prints the benchmark figures.
# Extra arguments go to the benchmark binary, e.g. --benchmark_filter=District.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ONEVISIT_BUILD_DIR=build-bench ONEVISIT_BUILD_TYPE=Release bash scripts/build.sh -DONEVISIT_BUILD_TESTS=OFF
# One core, as the targets are stated per core.
taskset -c 0 build-bench/bench/onevisit_bench --benchmark_counters_tabular=true "$@"
build-bench/bench/onevisit_engine_bench
# Issue 18's rows: the in-memory ones run on one thread (figures per CPU-second besides per second),
# the durable ones from many threads.
build-bench/bench/onevisit_lifecycle_bench --only pure,switch,memory,starts,table
build-bench/bench/onevisit_lifecycle_bench --only durable
build-bench/bench/onevisit_store_bench
build-bench/bench/onevisit_dispatch_bench
