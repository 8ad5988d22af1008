#!/usr/bin/env bash
# Installs every build and test dependency from Debian packages (afl++ for the fuzz targets,
# scripts/fuzz.sh; fonts-noto-cjk so that the console's Chinese shows in Chromium and in the
# browser tests' screenshots instead of boxes; zbar-tools so that the notices' test reads their
# QR codes back as a phone would; postgresql-15 and libpq-dev for the PostgreSQL store, whose
# tests start a throwaway cluster with scripts/pg_cluster.sh).
# Idempotent and quick when everything is already there: dpkg is asked first,
# apt-get only runs for what is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git python3
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-graph1.81-dev
  libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libpugixml-dev catch2 libcli11-dev
  libtomlplusplus-dev libbenchmark-dev graphviz libsodium-dev libssl-dev libpq-dev libqrencode-dev postgresql-15 wrk
  chromium zbar-tools
  fonts-noto-cjk
  afl++
)
# Node.js for the browser test: Debian's nodejs and npm, unless a node (with its own npm, as
# NodeSource's build has) is already installed.
if ! command -v node >/dev/null; then packages+=(nodejs); fi
if ! command -v npm >/dev/null; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test's driver (playwright-core, no bundled browsers: it drives Debian's chromium),
# from the committed lock file.
browser_tests="$(dirname "$0")/../tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
  echo "setup: npm ci in tests/browser"
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
