"""bitsandbytes codes read back against hand computations with the FP4 / NF4 tables and LLM.int8's rule."""

import pytest
import torch

from service.specs.precision import BnbFP4Precision, BnbInt8Precision, BnbNF4Precision
from worker.engine.quantizers.bnb import BnbFP4Quantizer, BnbInt8Quantizer, BnbNF4Quantizer

pytest.importorskip("bitsandbytes")

# The code tables written out by hand (FP4: sign, 2 exponent bits, 1 mantissa bit; NF4: QLoRA's quantiles).
FP4_TABLE = [0, 1 / 192, 2 / 3, 1, 1 / 3, 1 / 2, 1 / 6, 1 / 4]
FP4_TABLE = torch.tensor(FP4_TABLE + [-value for value in FP4_TABLE])
NF4_TABLE = torch.tensor([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                          -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                          0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                          0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0])  # fmt: skip


def hand_4bit(weight: torch.Tensor, table: torch.Tensor, block_size: int):
    """Absmax per block of the flattened weight, then the nearest table value."""
    blocks = weight.reshape(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    normalized = blocks / absmax.unsqueeze(1)
    nearest = (normalized.unsqueeze(-1) - table).abs().argmin(dim=-1)
    values = table[nearest] * absmax.unsqueeze(1)
    return absmax, values.reshape(weight.shape), table[nearest].reshape(weight.shape)


@pytest.mark.parametrize(
    ("quantizer", "table"),
    [(BnbFP4Quantizer(BnbFP4Precision()), FP4_TABLE), (BnbNF4Quantizer(BnbNF4Precision()), NF4_TABLE)],
)
def test_4bit_codes_and_absmax_match_the_code_table(quantizer, table):
    weight = torch.randn(8, 128, generator=torch.Generator().manual_seed(0))
    absmax, values, normalized_values = hand_4bit(weight, table, 64)
    codes = quantizer.weight_codes(weight)
    assert torch.allclose(codes.scales, absmax)
    assert torch.allclose(codes.dequantized, values, atol=1e-6)
    assert torch.allclose(table[codes.codes], normalized_values)
    assert codes.codes.shape == weight.shape and int(codes.codes.max()) <= 15


def test_4bit_bucket_width_is_the_gap_between_the_table_values_around_the_weight():
    weight = torch.zeros(1, 64)
    weight[0, :4] = torch.tensor([1.0, 0.9, 0.2, -0.4])  # block absmax 1.0
    codes = BnbFP4Quantizer(BnbFP4Precision()).weight_codes(weight)
    # 0.9 lies between 2/3 and 1; 0.2 between 1/6 and 1/4; -0.4 between -1/2 and -1/3; 1.0 is the top value.
    expected = torch.tensor([1 - 2 / 3, 1 - 2 / 3, 1 / 4 - 1 / 6, 1 / 2 - 1 / 3])
    assert torch.allclose(codes.bucket_width[0, :4], expected)
    assert codes.codes[0, 4:].eq(0).all()  # the zeros share one code (FP4's +0)


def test_fp4_reports_negative_zero_as_the_zero_code():
    weight = torch.full((1, 64), 0.5)
    weight[0, 0] = -1e-5  # rounds to FP4's -0
    codes = BnbFP4Quantizer(BnbFP4Precision()).weight_codes(weight)
    assert codes.codes[0, 0].item() == 0 and codes.dequantized[0, 0].item() == 0


def test_int8_codes_are_rowwise_absmax_of_the_fp16_weight():
    weight = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))
    weight[2, 5] = 9.0  # an outlier above the threshold is still coded in its row
    half = weight.half().float()
    absmax = half.abs().amax(dim=1)
    expected_codes = torch.round(half * (127 / absmax.unsqueeze(1)))
    codes = BnbInt8Quantizer(BnbInt8Precision()).weight_codes(weight)
    assert torch.equal(codes.codes.float(), expected_codes)
    assert torch.allclose(codes.scales, absmax)
    assert torch.allclose(codes.bucket_width, (absmax / 127).unsqueeze(1).expand_as(weight))
    assert torch.allclose(codes.dequantized, expected_codes * absmax.unsqueeze(1) / 127)


@pytest.mark.parametrize("quantizer", [BnbFP4Quantizer(BnbFP4Precision()), BnbNF4Quantizer(BnbNF4Precision())])
@pytest.mark.parametrize("shape", [(16, 256), (5, 40)])  # the second ends on a short block
def test_4bit_codes_equal_those_bitsandbytes_stores(quantizer, shape):
    from bitsandbytes.functional import dequantize_4bit, quantize_4bit

    weight = torch.randn(shape, generator=torch.Generator().manual_seed(3)) * 0.02
    packed, state = quantize_4bit(weight, blocksize=64, compress_statistics=False, quant_type=quantizer.quant_type)
    codes = quantizer.weight_codes(weight)
    assert torch.equal(codes.scales, state.absmax.float())
    assert torch.equal(codes.dequantized, dequantize_4bit(packed, state).float())
