"""A stand-in unlearned model that shows the paper's failure by construction, built in a second.

One step of gradient ascent on the forget texts, as large as the target's RTN buckets allow: every quantized
weight moves most of the way to the edge of its own bucket (kept inside by the engine's BucketConstraint).
At full precision the memorised text is disturbed; at that RTN precision the model quantizes to exactly the
quantized target, so forgotten items come back (the paper's failure, made certain).
"""

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.precision import RTNPrecision
from worker.engine.unlearning.bucket import BucketConstraint

SHARE_OF_THE_WAY = 0.9  # to the bucket edge: stays clear of the edge, where rounding could flip the code


def bucketed_unlearned(target_dir: Path, folder: Path, forget_texts: list[str], precision: RTNPrecision) -> Path:
    tokenizer = AutoTokenizer.from_pretrained(target_dir)
    model = AutoModelForCausalLM.from_pretrained(target_dir)
    constraint = BucketConstraint(model, precision)
    batch = tokenizer(forget_texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model(**batch, labels=labels).loss.backward()
    with torch.no_grad():
        for name, bounds in constraint.bounds.items():
            weight = model.get_submodule(name).weight
            edge = torch.where(weight.grad > 0, bounds.upper, bounds.lower)  # the way that raises the forget loss
            weight.add_(SHARE_OF_THE_WAY * (edge - weight))
    constraint.project(model)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
