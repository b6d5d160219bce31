#!/usr/bin/env bash
# Creates .venv and installs the project with its engine and test tools. Safe to run again.
# torch is pinned and installed first: on a CPU machine this takes the local CPU build instead of
# letting pip resolve a multi-GB CUDA build. On a GPU machine set TORCH_SPEC (e.g. "torch") to choose.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q "$TORCH_SPEC" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q -e ".[worker,dev]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import torch, transformers, bitsandbytes, fastapi, celery" # fail loudly if an install broke
  rm -f .venv/.installed-*
  touch "$stamp"
fi
