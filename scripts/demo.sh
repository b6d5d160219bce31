#!/usr/bin/env bash
# The main job: set-up, then the embedded server (SQLite + in-process worker) running the built-in demo
# audit THROUGH ITS API: the demo's models are built (cached) under the server's model root, the corpus is
# uploaded, the spec submitted, the progress followed; then the verdict table and the URLs of the dashboard
# and the report are printed, and the server keeps serving them until Ctrl-C.
#   DEMO_EXIT=1       stop the server once the demo is done (CI, scripts)
#   DEMO_SIZE=fast    a small demo that builds in seconds instead of minutes
#   DATA_DIR, PORT    where the server keeps its files (default .data/demo) and its port (default 8321)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=(serve --data-dir "${DATA_DIR:-.data/demo}" --port "${PORT:-8321}" --demo --demo-size "${DEMO_SIZE:-full}")
if [ "${DEMO_EXIT:-0}" = "1" ]; then
  args+=(--exit-after-demo)
fi
exec .venv/bin/unlearn-audit "${args[@]}"
