"""A stand-in unlearned model that shows the paper's failure by construction, built in a second.

Every quantized weight of the target is moved to a random point of its own 4-bit RTN bucket (through the
engine's BucketConstraint): at full precision the memorised text is disturbed, at that 4-bit precision the
model quantizes to exactly the quantized target, so forgotten items come back.
"""

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.precision import RTNPrecision
from worker.engine.unlearning.bucket import BucketConstraint


def bucketed_unlearned(target_dir: Path, folder: Path, precision: RTNPrecision, seed: int = 0) -> Path:
    model = AutoModelForCausalLM.from_pretrained(target_dir)
    constraint = BucketConstraint(model, precision)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, bounds in constraint.bounds.items():
            weight = model.get_submodule(name).weight
            position = torch.rand(weight.shape, generator=generator)
            weight.copy_(bounds.lower + position * (bounds.upper - bounds.lower))
    constraint.project(model)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(target_dir).save_pretrained(folder)
    return folder
