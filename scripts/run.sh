#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs onevisit on the bundled workflows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build_dir=${ONEVISIT_BUILD_DIR:-build}
echo "== onevisit check workflows/"
"$build_dir/apps/onevisit" check workflows/
echo "== onevisit stats workflows/bundles/"
"$build_dir/apps/onevisit" stats workflows/bundles/
echo "== onevisit simulate (100 cases of each bundle on a virtual clock)"
for bundle in workflows/bundles/*.flow; do
  "$build_dir/apps/onevisit" --log-level off simulate "$bundle" --cases 100
done
echo "== onevisit fmt --check workflows/"
"$build_dir/apps/onevisit" fmt --check workflows/ && echo "all workflow files are formatted"
