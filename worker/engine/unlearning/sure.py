"""SURE (the paper's section 5), with the mask really applied: only the most salient modules train.

Saliency of a module = Frobenius norm of the forget-loss gradient of its weight matrix at the original
weights, accumulated over the whole forget set. The modules at or above the chosen percentile of those
norms are returned; the training loop hands only them to the optimizer, so every other parameter stays
bit-identical.
"""

from collections.abc import Callable

import torch
from transformers import PreTrainedModel

from worker.engine.quantizers.base import linear_layers
from worker.engine.unlearning.base import TokenChunks

ForgetLoss = Callable[[PreTrainedModel, TokenChunks], torch.Tensor]


def module_saliency(
    model: PreTrainedModel, forget_loss: ForgetLoss, forget: TokenChunks, batch_size: int
) -> dict[str, float]:
    """{linear module name: ||d L_forget / d W||_F} over the forget set, the output head excluded."""
    names = list(linear_layers(model))
    weights = [model.get_submodule(name).weight for name in names]
    model.zero_grad(set_to_none=True)
    device = weights[0].device
    for start in range(0, len(forget), batch_size):
        indices = range(start, min(start + batch_size, len(forget)))
        share = len(indices) / len(forget)  # the mean over the forget set, batch by batch
        (forget_loss(model, forget.select(indices).to(device)) * share).backward()
    saliency = {name: float(weight.grad.float().norm()) for name, weight in zip(names, weights, strict=True)}
    model.zero_grad(set_to_none=True)
    return saliency


def salient_modules(saliency: dict[str, float], percentile: float) -> list[str]:
    """The modules whose saliency is at or above the `percentile`-th percentile (linear interpolation)."""
    if not saliency:
        raise ValueError("saliency: the model has no linear modules to select from")
    norms = torch.tensor(list(saliency.values()), dtype=torch.float64)
    threshold = float(torch.quantile(norms, percentile / 100.0))
    return [name for name, norm in saliency.items() if norm >= threshold]
