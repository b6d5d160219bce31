"""bitsandbytes quantizers: LLM.int8 (the paper's 8-bit) and 4-bit FP4 (the paper's 4-bit) / NF4.

bitsandbytes 0.50 runs all three on CPU as well as CUDA. Each quantizable nn.Linear of a deep copy is
replaced by bnb.nn.Linear8bitLt / Linear4bit, and the weight is quantized when the module is moved to
its device, exactly as transformers' bitsandbytes integration does at load time.

Codes are read back through bitsandbytes.functional with the same settings:
- 4-bit: absmax per block of `block_size` consecutive weights (row-major, as bitsandbytes flattens the
  matrix), each weight the 4-bit index of the nearest value of the FP4/NF4 code table times absmax.
  The statistics are not double-quantized (compress_statistics=False, transformers' default), so absmax is
  exact. FP4's table has two zeros (+0 and -0); both are reported as the +0 code since they give the same
  value. The bucket width of a weight is the gap, times absmax, between the two table values around it.
- LLM.int8: row-wise absmax int8 of the fp16 weight: code = round(w * 127 / absmax_row). The outlier
  threshold does not change the stored weight: it picks activation columns at matmul time, and those
  columns are computed in 16-bit with the weight dequantized from the same int8 codes. So the codes of
  every weight, outlier columns included, are the row-wise int8 codes.
"""

import copy
import logging
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.precision import BnbFP4Precision, BnbInt8Precision, BnbNF4Precision
from worker.engine.quantizers.base import ConfigT, Quantizer, WeightCodes, quantizable_linear_names

INT8_LEVELS = 127


class _SkipInt8CastNotice(logging.Filter):
    """LLM.int8 computes its matmuls in fp16 by design; bitsandbytes logs the cast on every call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("MatMul8bitLt: inputs will be cast")


logging.getLogger("bitsandbytes.autograd._functions").addFilter(_SkipInt8CastNotice())


def replace_linear_modules(
    model: PreTrainedModel, quantized_module: Callable[[nn.Linear], nn.Module]
) -> PreTrainedModel:
    """A deep copy of `model` whose quantizable Linear modules are `quantized_module(linear)`."""
    copied = copy.deepcopy(model)
    for name in quantizable_linear_names(copied):
        linear = copied.get_submodule(name)
        copied.set_submodule(name, quantized_module(linear).to(linear.weight.device))
    copied.eval()
    return copied


class _BnbQuantizer(Quantizer[ConfigT]):
    """Every quantizable Linear of a copy becomes a bitsandbytes module (`quantized_linear`)."""

    required_packages = ("bitsandbytes",)

    def quantize(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None = None,
    ) -> PreTrainedModel:
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
            compute_dtype=linear.weight.dtype,
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
        from bitsandbytes.functional import quantize_4bit

        packed, state = quantize_4bit(
            weight.detach().contiguous(),
            blocksize=self.config.block_size,
            compress_statistics=False,
            quant_type=self.quant_type,
        )
        table = state.code.float().cpu()
        codes = unpack_4bit(packed, weight.numel()).cpu()
        codes = torch.where(table[codes] == 0, zero_code(table), codes)
        absmax = state.absmax.float().cpu()
        block_absmax = absmax.repeat_interleave(self.config.block_size)[: weight.numel()]
        normalized = weight.detach().float().cpu().reshape(-1) / torch.where(block_absmax > 0, block_absmax, 1)
        return WeightCodes(
            codes=codes.view(weight.shape),
            scales=absmax,
            bucket_width=(table_gap(table, normalized) * block_absmax).view(weight.shape),
            dequantized=(table[codes] * block_absmax).view(weight.shape),
        )


def unpack_4bit(packed: torch.Tensor, count: int) -> torch.Tensor:
    """bitsandbytes packs two codes per byte, the first in the high nibble."""
    as_bytes = packed.reshape(-1).view(torch.uint8).to(torch.int64)
    codes = torch.stack([as_bytes >> 4, as_bytes & 0xF], dim=1).reshape(-1)
    return codes[:count]


def zero_code(table: torch.Tensor) -> int:
    """The first code whose value is 0 (FP4 has two)."""
    return int(torch.nonzero(table == 0)[0])


def table_gap(table: torch.Tensor, normalized: torch.Tensor) -> torch.Tensor:
    """The distance between the two code-table values around each normalized weight in [-1, 1]."""
    values = torch.unique(table)  # sorted
    upper = torch.searchsorted(values, normalized.contiguous(), right=True).clamp(1, len(values) - 1)
    return values[upper] - values[upper - 1]


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
        return WeightCodes(codes=codes, scales=row_absmax, bucket_width=step, dequantized=codes * step)
