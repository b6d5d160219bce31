"""RTN codes, steps, zero points, values and buckets against hand computations on small tensors."""

import pytest
import torch

from service.specs.precision import RTNPrecision
from worker.engine.quantizers.rtn import RTNQuantizer, rtn_grid

WEIGHT = torch.tensor([[0.1, -0.35, 0.7, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0], [-0.6, -0.2, 0.3, 0.9, -0.1]])


def test_symmetric_per_channel_matches_hand_computation():
    grid = rtn_grid(WEIGHT, bits=4, group_size=None, symmetric=True)
    # row 0: step 0.7 / 7 = 0.1; -0.35 / 0.1 = -3.5 rounds half to even -> -4. Row 1: zeros. Row 2: 0.9 / 7.
    step_2 = 0.9 / 7
    assert torch.allclose(grid.scales.squeeze(1), torch.tensor([0.1, 0.0, step_2]))
    assert grid.zero_points.eq(0).all()
    expected_codes = [[1, -4, 7, 2, 0], [0, 0, 0, 0, 0], [round(-0.6 / step_2), round(-0.2 / step_2), 2, 7, -1]]
    assert grid.codes.tolist() == expected_codes
    assert torch.allclose(grid.dequantize(), torch.tensor(expected_codes) * grid.scales)


def test_asymmetric_groups_with_a_short_last_group():
    grid = rtn_grid(WEIGHT, bits=2, group_size=2, symmetric=False)
    # row 0: groups [0.1, -0.35], [0.7, 0.2], [0.0] (short); the range always includes 0.
    assert torch.allclose(grid.scales[0], torch.tensor([0.45 / 3, 0.7 / 3, 0.0]))
    assert grid.zero_points[0].tolist() == [2, 0, 0]  # round(0.35 / 0.15) = 2
    assert grid.codes[0].tolist() == [3, 0, 3, 1, 0]  # 0.1/0.15 -> 1 (+2); -0.35/0.15 -> -2 (+2); 0.2/(0.7/3) -> 1
    assert torch.allclose(grid.dequantize()[0], torch.tensor([0.15, -0.30, 0.7, 0.7 / 3, 0.0]))


def test_bucket_bounds_are_half_a_step_around_each_value():
    grid = rtn_grid(WEIGHT, bits=3, group_size=None, symmetric=False)
    lower, upper = grid.bucket_bounds()
    step = grid.per_weight(grid.scales)
    assert torch.allclose(upper - lower, step)
    assert ((lower - 1e-6 <= WEIGHT) & (upper + 1e-6 >= WEIGHT)).all()  # each weight lies in its own bucket
    moved = upper + step / 4  # a quarter step past the upper edge: the next code, same scales
    moved_codes = torch.round(moved / torch.where(step > 0, step, 1)) + grid.per_weight(grid.zero_points)
    interior = (grid.codes < 7) & (step > 0)
    assert (moved_codes[interior] == grid.codes[interior] + 1).all()


def test_zero_group_has_zero_step_and_keeps_zero():
    grid = rtn_grid(WEIGHT, bits=4, group_size=None, symmetric=False)
    assert grid.scales[1].item() == 0.0
    assert grid.dequantize()[1].eq(0).all()
    assert not torch.isnan(grid.dequantize()).any()


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_rounding_error_is_at_most_half_a_step(bits, symmetric):
    weight = torch.randn(16, 96, generator=torch.Generator().manual_seed(bits))
    codes = RTNQuantizer(RTNPrecision(bits=bits, group_size=32, symmetric=symmetric)).weight_codes(weight)
    assert codes.codes.shape == weight.shape
    assert ((codes.dequantized - weight).abs() <= codes.bucket_width / 2 + 1e-6).all()
    assert codes.codes.unique().numel() <= 2**bits


def test_refuses_a_weight_that_is_not_a_matrix():
    with pytest.raises(ValueError, match="2-D weight"):
        rtn_grid(torch.ones(4), bits=4, group_size=None, symmetric=True)
