"""The fused scan kernels give exactly what the quantizers' `weight_codes` and the generic collision tally give."""

import numba
import numpy as np
import pytest
import torch

from service.specs.precision import BnbFP4Precision, BnbNF4Precision, RTNPrecision
from worker.engine.collision import CollisionTally, bucket_collision, row_chunks
from worker.engine.quantizers import get_quantizer
from worker.engine.quantizers.base import Quantizer
from worker.engine.quantizers.scan_kernels import kernel_input

pytest.importorskip("bitsandbytes")

PRECISIONS = [
    RTNPrecision(bits=4, group_size=128, symmetric=False),
    RTNPrecision(bits=4, group_size=64, symmetric=True),
    RTNPrecision(bits=8, group_size=None, symmetric=True),
    RTNPrecision(bits=3, group_size=48, symmetric=False),  # 200 columns: a short last group
    BnbNF4Precision(),
    BnbFP4Precision(block_size=128),
]


def awkward_pair(columns: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """A target and an unlearned matrix with the cases that make rounding differ: groups of zeros, a row that
    did not move, weights exactly on bucket edges (ties), -0.0, a block whose absmax moved."""
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(97, columns, generator=generator) * 0.02
    target[3, :] = 0.0  # every group of a row is zeros
    target[4, :64] = 0.0  # one group of zeros
    target[6, :] = torch.arange(columns) * 0.01 - 1.0  # multiples of a step: halves land on ties
    target[8, :10] = -0.0
    unlearned = target + torch.randn(target.shape, generator=generator) * 2e-3
    unlearned[5] = target[5]  # did not move
    unlearned[4, :64] = 0.0  # a zero group that stays zero
    unlearned[4, 64:70] = 0.0  # moves to zero
    unlearned[7, 0] = 1.0  # a new absmax
    return target, unlearned


def generic_tally(quantizer: Quantizer, target: torch.Tensor, unlearned: torch.Tensor) -> CollisionTally:
    tally = CollisionTally(bins=20, counts=torch.zeros(21, dtype=torch.int64))
    tally.add("w", quantizer, target.clone(), unlearned.clone())
    return tally


@pytest.mark.parametrize("precision", PRECISIONS, ids=lambda precision: precision.label)
def test_kernel_counts_equal_the_generic_tally(precision):
    quantizer = get_quantizer(precision)
    target, unlearned = awkward_pair()
    kernel = quantizer.scan_kernel()
    assert kernel is not None
    fused = CollisionTally(bins=20, counts=torch.zeros(21, dtype=torch.int64), kernel=kernel)
    fused.add("w", quantizer, target, unlearned)
    generic = generic_tally(quantizer, target, unlearned)
    fields = ("equal_codes", "n_weights", "n_moved", "equal_moved", "equal_scales", "n_scales", "per_layer")
    assert {name: getattr(fused, name) for name in fields} == {name: getattr(generic, name) for name in fields}
    assert fused.counts.tolist() == generic.counts.tolist()
    assert 0 < generic.equal_codes < generic.n_weights and generic.counts[-1] > 0  # the cases are not trivial


@pytest.mark.parametrize("precision", PRECISIONS, ids=lambda precision: precision.label)
def test_kernel_codes_and_scales_are_the_quantizers(precision):
    quantizer = get_quantizer(precision)
    kernel = quantizer.scan_kernel()
    target, unlearned = awkward_pair()
    for rows in row_chunks(tuple(target.shape), quantizer):
        expected = quantizer.weight_codes(target[rows])
        scanned, scanned_unlearned, _ = kernel.scan(target[rows].numpy(), unlearned[rows].numpy(), 20)
        codes = scanned.codes.astype(np.int64)
        if hasattr(kernel, "table"):  # 4-bit: the index of the value among the distinct ones
            codes = kernel.table.codes[scanned.codes].astype(np.int64)
        else:  # RTN: shifted to start at 0
            codes += -(2 ** (precision.bits - 1)) if precision.symmetric else 0
        assert np.array_equal(codes, expected.codes.numpy())
        assert np.array_equal(scanned.scales.reshape(-1), expected.scales.numpy().reshape(-1))
        alone = kernel.encode(unlearned[rows].numpy())
        assert np.array_equal(alone.codes, scanned_unlearned.codes)
        assert np.array_equal(alone.scales, scanned_unlearned.scales)


def test_collision_with_and_without_kernels_agrees(tmp_path, monkeypatch):
    from tests.worker.engine.test_collision import save, synthetic_checkpoint

    tensors = synthetic_checkpoint()
    target = save(tmp_path / "target", tensors)
    unlearned = save(tmp_path / "unlearned", {name: tensor * 1.01 for name, tensor in tensors.items()})
    precision = RTNPrecision(bits=4, group_size=8, symmetric=False)
    fused = bucket_collision(target, unlearned, precision)
    monkeypatch.setattr(type(get_quantizer(precision)), "scan_kernel", lambda self: None)
    generic = bucket_collision(target, unlearned, precision)
    digests = {"target_digest", "digest"}  # each path hashes its own form of the codes
    assert fused.model_dump(exclude=digests) == generic.model_dump(exclude=digests)
    assert fused.digest != fused.target_digest


def test_kernels_run_on_numbas_own_pool_and_leave_torch_fast():
    """numba's OpenMP pool, beside torch's, slowed every later torch operation of the process about 30x."""
    kernel = get_quantizer(RTNPrecision(bits=4, group_size=64)).scan_kernel()
    kernel.encode(np.zeros((2, 64), np.float32))
    assert numba.threading_layer() == "workqueue"


@pytest.mark.parametrize("precision", PRECISIONS, ids=lambda precision: precision.label)
def test_bfloat16_chunks_are_widened_inside_the_kernel(precision):
    """bfloat16 goes in as its bit patterns: the same codes, scales and counts as its float32 values."""
    kernel = get_quantizer(precision).scan_kernel()
    target, unlearned = (matrix.to(torch.bfloat16) for matrix in awkward_pair())
    assert kernel_input(target).dtype == np.uint16
    as_bits = kernel.scan(kernel_input(target), kernel_input(unlearned), 20)
    as_floats = kernel.scan(target.float().numpy(), unlearned.float().numpy(), 20)
    for bits, floats in zip(as_bits[:2], as_floats[:2], strict=True):
        assert np.array_equal(bits.codes, floats.codes) and np.array_equal(bits.scales, floats.scales)
    assert as_bits[2].histogram.tolist() == as_floats[2].histogram.tolist()
    assert as_bits[2].equal_codes == as_floats[2].equal_codes and as_bits[2].moved == as_floats[2].moved
    assert np.array_equal(kernel.encode(kernel_input(target)).codes, as_floats[0].codes)
