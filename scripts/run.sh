#!/usr/bin/env bash
# The main job: installs what is missing, builds, checks the bundled workflows and serves them:
# the clerk service (REST API and web console) on an SQLite file, until Ctrl-C / SIGTERM.
#   ONEVISIT_DB=path      the case database (default: <build dir>/onevisit-cases.db)
#   ONEVISIT_LISTEN=a:p   where to listen (default: 127.0.0.1:8080)
#   extra arguments go to `onevisit serve`, e.g. --config deploy.toml or --reset-admin-password
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build_dir=${ONEVISIT_BUILD_DIR:-build}
database=${ONEVISIT_DB:-$build_dir/onevisit-cases.db}
listen=${ONEVISIT_LISTEN:-127.0.0.1:8080}
echo "== onevisit check workflows/"
"$build_dir/apps/onevisit" check workflows/
echo "== onevisit serve on $database (the first start deploys workflows/ and prints the admin password)"
exec "$build_dir/apps/onevisit" serve --db "$database" --workflows workflows/ --listen "$listen" "$@"
