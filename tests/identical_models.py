"""Unlearned models whose quantized state is the target's (the demo's bucket-constrained kind) or one code away."""

import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.precision import RTNPrecision
from worker.engine.quantizers.base import linear_layers, weight_matrix
from worker.engine.quantizers.rtn import rtn_grid
from worker.engine.unlearning.bucket import BucketConstraint

RTN4_G64 = RTNPrecision(bits=4, group_size=64)  # the demo's bucket_constrained precision (asymmetric)
MOVED_LAYER = "model.layers.0.self_attn.q_proj"


def bucket_constrained_copy(target_dir: Path, folder: Path, seed: int = 3) -> Path:
    """The target with noise on every linear weight, projected back into the target's RTN 4-bit g64 buckets
    as the demo's bucket_constrained recipe does after each step: different at full precision, the same
    quantized model at RTN 4-bit g64."""
    model = AutoModelForCausalLM.from_pretrained(target_dir)
    constraint = BucketConstraint(model, RTN4_G64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in linear_layers(model).values():
            weight = weight_matrix(module)
            weight.add_(torch.randn(weight.shape, generator=generator) * weight.abs().mean() * 0.2)
    constraint.project(model)
    return _save(model, target_dir, folder)


def one_code_away(source_dir: Path, folder: Path) -> Path:
    """A copy of `source_dir` whose RTN 4-bit g64 codes differ in exactly one weight, by one code."""
    model = AutoModelForCausalLM.from_pretrained(source_dir)
    weight = weight_matrix(model.get_submodule(MOVED_LAYER))
    before = rtn_grid(weight, 4, 64, symmetric=False)
    column = int(weight[0, :64].abs().argmin())  # far from the group's range ends, which set its scale
    with torch.no_grad():
        weight[0, column] += before.scales[0, 0]
    changed = int((rtn_grid(weight, 4, 64, symmetric=False).codes != before.codes).sum())
    assert changed == 1, f"moving one weight by one step changed {changed} codes"
    return _save(model, source_dir, folder)


def twin(source_dir: Path, folder: Path) -> Path:
    """Another folder holding the same model (a second recipe that landed on the same weights)."""
    return Path(shutil.copytree(source_dir, folder))


def _save(model, tokenizer_dir: Path, folder: Path) -> Path:
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    return folder
