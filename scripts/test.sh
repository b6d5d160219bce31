#!/usr/bin/env bash
# The test command: sets up .venv if needed, checks the services, runs the house-rule checks, ruff, mypy and the tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not browser" -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests" >&2
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium unavailable: browser tests will be skipped" >&2
fi
bash scripts/check_sql.sh
.venv/bin/ruff check service worker tests bench migrations
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
