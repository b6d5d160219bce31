"""Round-to-nearest (RTN) integer quantization: the paper's theory, exact and cheap, on any device.

The grid of a group of weights (one output row, `group_size` consecutive input columns of it):
- symmetric: step s = absmax / (2^(bits-1) - 1), zero point z = 0, codes in [-2^(bits-1), 2^(bits-1) - 1];
- asymmetric: the range [min(w_min, 0), max(w_max, 0)] (zero stays representable, as in GPTQ and
  compressed-tensors) split in 2^bits - 1 steps: s = range / (2^bits - 1), z = round(-min / s),
  codes in [0, 2^bits - 1].
code(w) = clamp(round(w / s) + z), value(code) = (code - z) * s. Rounding is half to even (torch.round).

The bucket of code q is the interval of values that round to q on that fixed grid:
[(q - z - 1/2) * s, (q - z + 1/2) * s] (`bucket_bounds`). The extreme codes' buckets are cut at the same half
step: beyond it the group's own scale would change. A group of zeros has s = 0 (every weight is code z,
value 0) and its bucket is the single point 0.

The input dimension need not be a multiple of `group_size`: the last group is shorter. Evaluation is
simulated quantization (each weight replaced by its dequantized value, in its own dtype), which is exact
for RTN.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.precision import RTNPrecision
from worker.engine.quantizers.base import Quantizer, WeightCodes, copy_with, linear_layers, stored_layout, weight_matrix

if TYPE_CHECKING:  # numba is imported only when a kernel is asked for
    from worker.engine.quantizers.scan_kernels import ScanKernel


@dataclass
class RTNGrid:
    """The RTN grid of one weight matrix [out_features, in_features] and its codes on it."""

    codes: torch.Tensor  # int32, the weight's shape
    scales: torch.Tensor  # float32, [out_features, n_groups]: the step s of each group
    zero_points: torch.Tensor  # int32, [out_features, n_groups]: z (0 when symmetric)
    group_size: int  # columns per group (in_features when per output channel)

    def per_weight(self, per_group: torch.Tensor) -> torch.Tensor:
        """Expand a [out_features, n_groups] tensor to the weight's shape."""
        out_features, in_features = self.codes.shape
        n_groups = per_group.shape[1]
        expanded = per_group.unsqueeze(2).expand(out_features, n_groups, self.group_size)
        return expanded.reshape(out_features, n_groups * self.group_size)[:, :in_features]

    def dequantize(self) -> torch.Tensor:
        """float32 values of the codes: (code - z) * s."""
        return (self.codes - self.per_weight(self.zero_points)).float() * self.per_weight(self.scales)

    def bucket_bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(lower, upper) float32 bounds of every weight's bucket on this fixed grid (see module docstring)."""
        step = self.per_weight(self.scales)
        centre = self.dequantize()
        return centre - step / 2, centre + step / 2


def code_range(bits: int, symmetric: bool) -> tuple[int, int]:
    """The smallest and largest code."""
    if symmetric:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def rtn_grid(
    weight: torch.Tensor, bits: int, group_size: int | None, symmetric: bool, half_range_scale: bool = False
) -> RTNGrid:
    """Codes, steps and zero points of a 2-D weight on the RTN grid (group_size None = per output channel).

    A symmetric step is absmax / (2^(bits-1) - 1), or with `half_range_scale` absmax / ((2^bits - 1) / 2),
    as compressed-tensors (llm-compressor's GPTQ and AWQ) computes it: 7.5 rather than 7 at 4 bits.
    """
    if weight.dim() != 2:
        raise ValueError(f"RTN expects a 2-D weight [out_features, in_features], got shape {tuple(weight.shape)}")
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be between 2 and 8, got {bits}")
    out_features, in_features = weight.shape
    size = in_features if group_size is None else min(group_size, in_features)
    n_groups = math.ceil(in_features / size)
    if in_features == n_groups * size:
        groups = weight.detach().float().reshape(out_features, n_groups, size)
    else:  # zero padding of the last group changes nothing: both grids include 0 in their range
        padded = torch.zeros(out_features, n_groups * size, dtype=torch.float32, device=weight.device)
        padded[:, :in_features] = weight.detach().float()
        groups = padded.view(out_features, n_groups, size)
    low, high = code_range(bits, symmetric)
    if symmetric:
        scales = groups.abs().amax(dim=2) / ((high - low) / 2 if half_range_scale else high)
        zero_points = torch.zeros_like(scales, dtype=torch.int32)
    else:
        minimum = groups.amin(dim=2).clamp(max=0)
        maximum = groups.amax(dim=2).clamp(min=0)
        scales = (maximum - minimum) / high
        safe = torch.where(scales > 0, scales, torch.ones_like(scales))
        zero_points = torch.round(-minimum / safe).to(torch.int32)
    safe_scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    shifted = torch.round(groups / safe_scales.unsqueeze(2)) + zero_points.unsqueeze(2)
    codes = shifted.clamp(low, high).to(torch.int32).view(out_features, -1)[:, :in_features]
    return RTNGrid(codes.contiguous(), scales, zero_points, size)


def rtn_weight_codes(
    weight: torch.Tensor, bits: int, group_size: int | None, symmetric: bool, half_range_scale: bool = False
) -> WeightCodes:
    grid = rtn_grid(weight, bits, group_size, symmetric, half_range_scale)
    return WeightCodes(
        codes=grid.codes,
        scales=grid.scales,
        compute_bucket_width=lambda: grid.per_weight(grid.scales),
        compute_dequantized=grid.dequantize,
    )


@torch.no_grad()
def replace_linear_weights(
    model: PreTrainedModel, quantized_value: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[PreTrainedModel, list[str]]:
    """A copy of `model` whose linear layers' weights are `quantized_value(weight [out, in])` (same dtype).

    Layer by layer, only the new weights take memory: everything else is shared with `model` (copy_with).
    """
    layers = linear_layers(model)
    replacements = []
    for module in layers.values():
        value = stored_layout(module, quantized_value(weight_matrix(module)).to(module.weight.dtype))
        replacements.append((module.weight, nn.Parameter(value.contiguous(), requires_grad=False)))
    return copy_with(model, replacements), list(layers)


class RTNQuantizer(Quantizer[RTNPrecision]):
    method = "rtn"

    def quantize_layers(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None,
    ) -> tuple[PreTrainedModel, list[str]]:
        config = self.config
        return replace_linear_weights(
            model, lambda weight: rtn_grid(weight, config.bits, config.group_size, config.symmetric).dequantize()
        )

    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        config = self.config
        return rtn_weight_codes(weight, config.bits, config.group_size, config.symmetric)

    def scan_kernel(self) -> "ScanKernel":
        from worker.engine.quantizers.scan_kernels import RTNKernel

        return RTNKernel(self.config.bits, self.config.group_size, self.config.symmetric)
