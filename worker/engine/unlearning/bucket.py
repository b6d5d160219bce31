"""The bucket constraint: unlearning that never leaves the target's RTN buckets (a quantization attack).

After every optimizer step each quantized weight is projected back into the interval that keeps its
target code (rtn.RTNGrid.bucket_bounds). The group's scale and zero point must not change either, so the
weights that define the group's range (its minimum and maximum) stay fixed and every other weight stays
within that range. Weights that still land on another code after the cast to the model's dtype (a value
exactly on a bucket edge) are put back to the target's value. The result quantizes to exactly the
target's quantized model under that quantizer, whatever it does at full precision.
"""

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from service.specs.precision import RTNPrecision
from worker.engine.quantizers.base import linear_layers, weight_matrix
from worker.engine.quantizers.rtn import rtn_grid


@dataclass
class _WeightBounds:
    original: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    anchors: torch.Tensor  # bool: the weights that set their group's range, kept fixed
    codes: torch.Tensor


class BucketConstraint:
    """The buckets of a model's current weights (call it on the target copy before training)."""

    def __init__(self, model: PreTrainedModel, precision: RTNPrecision):
        self.precision = precision
        self.bounds = {name: self._bounds(weight_matrix(module)) for name, module in linear_layers(model).items()}

    def _grid(self, weight: torch.Tensor):
        return rtn_grid(weight, self.precision.bits, self.precision.group_size, self.precision.symmetric)

    def _bounds(self, weight: torch.Tensor) -> _WeightBounds:
        grid = self._grid(weight)
        lower, upper = grid.bucket_bounds()
        values = weight.detach().float()
        group_low, group_high = _group_range(values, grid.group_size, self.precision.symmetric)
        low_per_weight, high_per_weight = grid.per_weight(group_low), grid.per_weight(group_high)
        anchors = ((values == low_per_weight) & (low_per_weight < 0)) | (
            (values == high_per_weight) & (high_per_weight > 0)
        )
        return _WeightBounds(
            original=weight.detach().clone(),
            lower=torch.maximum(lower, low_per_weight),
            upper=torch.minimum(upper, high_per_weight),
            anchors=anchors,
            codes=grid.codes,
        )

    @torch.no_grad()
    def project(self, model: PreTrainedModel) -> None:
        """Put every constrained weight back into its bucket, in place."""
        for name, bounds in self.bounds.items():
            weight = weight_matrix(model.get_submodule(name))
            clamped = torch.clamp(weight.float(), bounds.lower, bounds.upper).to(weight.dtype)
            clamped = torch.where(bounds.anchors, bounds.original, clamped)
            moved_code = self._grid(clamped).codes != bounds.codes
            weight.copy_(torch.where(moved_code, bounds.original, clamped))

    @torch.no_grad()
    def codes_kept(self, model: PreTrainedModel) -> float:
        """The share of constrained weights whose code under the quantizer equals the original code."""
        kept = total = 0
        for name, bounds in self.bounds.items():
            codes = self._grid(weight_matrix(model.get_submodule(name))).codes
            kept += int((codes == bounds.codes).sum())
            total += codes.numel()
        return kept / total


def _group_range(values: torch.Tensor, group_size: int, symmetric: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """[out_features, n_groups] lower and upper ends of each group's quantization range (rtn.py's rule)."""
    groups = values.split(group_size, dim=1)
    if symmetric:
        absmax = torch.stack([group.abs().amax(dim=1) for group in groups], dim=1)
        return -absmax, absmax
    low = torch.stack([group.amin(dim=1) for group in groups], dim=1).clamp(max=0)
    high = torch.stack([group.amax(dim=1) for group in groups], dim=1).clamp(min=0)
    return low, high
