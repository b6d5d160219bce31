#!/usr/bin/env bash
# The pipeline on CUDA with a 1B-class random checkpoint, in one command (set-up included, < 10 minutes on
# one modern GPU): installs the environment with the CUDA build of torch, writes a Llama-style 1.1B bf16
# sharded checkpoint and its bucket-perturbed copy, and audits it at full, RTN 8, RTN 4 g128 and NF4,
# printing per variant the load time, tokens/s and peak GPU memory (bench/bench_scale.py).
# Without a GPU it says so and exits 0 without running anything.
#   bash bench/gpu_smoke.sh            (SMOKE_DIR: where the checkpoint goes, default /tmp/unlearn-audit-smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_smoke: this check needs an NVIDIA GPU (nvidia-smi finds none here); nothing was run."
  exit 0
fi
SMOKE_DIR=${SMOKE_DIR:-/tmp/unlearn-audit-smoke}
TORCH_SPEC=${TORCH_SPEC:-torch} bash scripts/setup.sh
.venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'torch sees no CUDA device')"
if [ ! -f "$SMOKE_DIR/unlearned/model.safetensors.index.json" ]; then
  PYTHONPATH=. .venv/bin/python bench/make_checkpoint.py --arch llama --size 1b --out "$SMOKE_DIR"
fi
UNLEARN_AUDIT_DEVICE=cuda PYTHONPATH=. .venv/bin/python bench/bench_scale.py "$SMOKE_DIR" --items 8 --device cuda
