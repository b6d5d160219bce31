"""bitsandbytes quantizers: LLM.int8 (the paper's 8-bit) and 4-bit FP4 (the paper's 4-bit) / NF4.

bitsandbytes 0.50 runs all three on CPU as well as CUDA. Each linear layer (nn.Linear, or Conv1D seen as
the nn.Linear it computes) of a copy is replaced by bnb.nn.Linear8bitLt / Linear4bit, and the weight is
quantized when the module is moved to its device, exactly as transformers' bitsandbytes integration does
at load time. The copy shares every other parameter with the original (base.copy_with).

Codes are read back with the same settings:
- 4-bit: absmax per block of `block_size` consecutive weights (row-major, as bitsandbytes flattens the
  matrix), each weight the 4-bit index of the nearest value of the FP4/NF4 code table times absmax.
  The statistics are not double-quantized (compress_statistics=False, transformers' default), so absmax is
  exact. FP4's table has two zeros (+0 and -0); both are reported as the +0 code since they give the same
  value. The bucket width of a weight is the gap, times absmax, between the two table values around it.
  The codes are computed here with bitsandbytes' own table and arithmetic (its CPU kernel: the weight
  times 1 / absmax, clamped to [-1, 1], then the midpoints between sorted table values), by comparisons
  against the 15 midpoints, which is several times faster on a CPU than its kernel's bucketize and max
  with indices; a test checks them against bitsandbytes' quantize_4bit.
- LLM.int8: row-wise absmax int8 of the fp16 weight: code = round(w * 127 / absmax_row). The outlier
  threshold does not change the stored weight: it picks activation columns at matmul time, and those
  columns are computed in 16-bit with the weight dequantized from the same int8 codes. So the codes of
  every weight, outlier columns included, are the row-wise int8 codes.
"""

import logging
import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.precision import BnbFP4Precision, BnbInt8Precision, BnbNF4Precision
from worker.engine.models import TORCH_DTYPES
from worker.engine.quantizers.base import ConfigT, Quantizer, WeightCodes, as_linear, copy_with, linear_layers

if TYPE_CHECKING:  # numba is imported only when a kernel is asked for
    from worker.engine.quantizers.scan_kernels import ScanKernel

INT8_LEVELS = 127


class _SkipInt8CastNotice(logging.Filter):
    """LLM.int8 computes its matmuls in fp16 by design; bitsandbytes logs the cast on every call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("MatMul8bitLt: inputs will be cast")


logging.getLogger("bitsandbytes.autograd._functions").addFilter(_SkipInt8CastNotice())


def replace_linear_modules(
    model: PreTrainedModel, quantized_module: Callable[[nn.Linear], nn.Module]
) -> tuple[PreTrainedModel, list[str]]:
    """A copy of `model` whose linear layers are `quantized_module(layer as nn.Linear)`, and their names."""
    layers = linear_layers(model)
    replacements = [
        (module, quantized_module(as_linear(module)).to(module.weight.device)) for module in layers.values()
    ]
    return copy_with(model, replacements), list(layers)


class _BnbQuantizer(Quantizer[ConfigT]):
    """Every quantizable Linear of a copy becomes a bitsandbytes module (`quantized_linear`)."""

    required_packages = ("bitsandbytes",)

    def quantize_layers(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None,
    ) -> tuple[PreTrainedModel, list[str]]:
        return replace_linear_modules(model, self.quantized_linear)

    @abstractmethod
    def quantized_linear(self, linear: nn.Linear) -> nn.Module: ...


class _Bnb4bitQuantizer(_BnbQuantizer[BnbFP4Precision | BnbNF4Precision]):
    quant_type: ClassVar[str]

    def quantized_linear(self, linear: nn.Linear) -> nn.Module:
        import bitsandbytes as bnb

        module = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            compute_dtype=TORCH_DTYPES[self.config.compute_dtype],
            compress_statistics=False,
            quant_type=self.quant_type,
            device="meta",
        )
        module.weight = bnb.nn.Params4bit(
            linear.weight.detach().clone(),
            requires_grad=False,
            blocksize=self.config.block_size,
            compress_statistics=False,
            quant_type=self.quant_type,
            module=module,
        )
        module.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), False)
        return module

    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        from bitsandbytes.functional import get_4bit_type

        table = get_4bit_type(self.quant_type, device="cpu").float()
        scaled, absmax = blockwise_scaled(weight.detach().float().cpu().reshape(-1), self.config.block_size)
        order = torch.argsort(table)  # as bitsandbytes sorts it (NF4 is sorted already)
        codes = order[count_above(scaled, (table[order][:-1] + table[order][1:]) / 2).long()]
        if int((table == 0).sum()) > 1:
            codes = torch.where(table[codes] == 0, zero_code(table), codes)
        block_absmax = absmax.repeat_interleave(self.config.block_size)[: weight.numel()]

        def bucket_width() -> torch.Tensor:
            values = torch.unique(table)  # sorted, FP4's two zeros as one
            upper = count_above(scaled, values, or_equal=True).long().clamp_(1, len(values) - 1)
            return ((values[upper] - values[upper - 1]) * block_absmax).view(weight.shape)

        return WeightCodes(
            codes=codes.view(weight.shape),
            scales=absmax,
            compute_bucket_width=bucket_width,
            compute_dequantized=lambda: (table[codes] * block_absmax).view(weight.shape),
        )

    def scan_kernel(self) -> "ScanKernel":
        from bitsandbytes.functional import get_4bit_type

        from worker.engine.quantizers.scan_kernels import FourBitKernel, FourBitTable

        table = get_4bit_type(self.quant_type, device="cpu").float().numpy()
        return FourBitKernel(FourBitTable.of(table), self.config.block_size)

    def rows_per_group(self, in_features: int) -> int:
        """Blocks of `block_size` run over the flattened matrix: a chunk of rows must end on a block edge."""
        return self.config.block_size // math.gcd(self.config.block_size, in_features)


def blockwise_scaled(flat: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(each weight / its block's absmax, clamped to [-1, 1]; absmax per block), as bitsandbytes computes them.

    The last block may be shorter; bitsandbytes divides it by its absmax rather than multiplying by the inverse.
    """
    full = flat.numel() - flat.numel() % block_size
    blocks = flat[:full].view(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    scaled = (blocks * (1.0 / absmax.clamp(min=1e-38)).unsqueeze(1)).clamp_(-1, 1).reshape(-1)
    if full < flat.numel():
        last_absmax = flat[full:].abs().amax().clamp(min=1e-38)
        absmax = torch.cat([absmax, last_absmax.unsqueeze(0)])
        scaled = torch.cat([scaled, (flat[full:] / last_absmax).clamp_(-1, 1)])
    return scaled, absmax


def count_above(values: torch.Tensor, thresholds: torch.Tensor, or_equal: bool = False) -> torch.Tensor:
    """For each value, how many thresholds lie below it (or at it): torch.bucketize's index, without its cost."""
    count = torch.zeros(values.shape, dtype=torch.uint8)
    compare = torch.ge if or_equal else torch.gt
    for threshold in thresholds.tolist():
        count.add_(compare(values, threshold).view(torch.uint8))
    return count


def zero_code(table: torch.Tensor) -> int:
    """The first code whose value is 0 (FP4 has two)."""
    return int(torch.nonzero(table == 0)[0])


class BnbFP4Quantizer(_Bnb4bitQuantizer):
    method = "bnb_fp4"
    quant_type = "fp4"


class BnbNF4Quantizer(_Bnb4bitQuantizer):
    method = "bnb_nf4"
    quant_type = "nf4"


class BnbInt8Quantizer(_BnbQuantizer[BnbInt8Precision]):
    method = "bnb_int8"

    def quantized_linear(self, linear: nn.Linear) -> nn.Module:
        import bitsandbytes as bnb

        module = bnb.nn.Linear8bitLt(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            has_fp16_weights=False,
            threshold=self.config.threshold,
            device="meta",
        )
        module.weight = bnb.nn.Int8Params(linear.weight.detach().clone(), requires_grad=False, has_fp16_weights=False)
        module.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), False)
        return module

    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        from bitsandbytes.functional import int8_vectorwise_quant

        codes, row_absmax, _ = int8_vectorwise_quant(weight.detach().to(torch.float16).contiguous())
        row_absmax = row_absmax.float().cpu()
        codes = torch.where(row_absmax.unsqueeze(1) > 0, codes.cpu().to(torch.int32), 0)
        step = (row_absmax / INT8_LEVELS).unsqueeze(1).expand(weight.shape)
        return WeightCodes(
            codes=codes, scales=row_absmax, compute_bucket_width=lambda: step, compute_dequantized=lambda: codes * step
        )
