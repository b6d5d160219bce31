"""Fused CPU kernels for streaming over checkpoints: the codes of a weight chunk, or of a pair of chunks (target,
unlearned) with every count of bucket collision, in one pass over each quantization group.

The generic path (a quantizer's `weight_codes`, then tensor operations in worker.engine.collision) makes about
thirty passes over each chunk; these loops make one, compiled by numba and spread over the CPU's threads. They
compute exactly what the quantizers' `weight_codes` compute, with the same float32 operations in the same order
(tests/worker/engine/quantizers/test_scan_kernels.py compares both paths on edge cases: short last groups,
groups of zeros, ties, FP4's two zeros): the torch code stays the definition, these loops are its fast form on
a CPU, where collision runs. Codes come out in one byte (RTN codes shifted to start at 0), which is also what
the identity digest hashes.

A kernel takes float32 chunks (numpy views of torch tensors) and writes into arrays it is given; the histogram
and the counts are kept per row or per block so that threads never write the same cell.
"""

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit, prange

F32 = np.float32
I32 = np.int32
KERNEL_MATH = {"nnan", "nsz"}  # lets a max/min over a group be vectorised (weights are numbers; no NaN is relied on)
BIG = np.float32(np.finfo(np.float32).max)  # above every table value (no infinity under KERNEL_MATH)
TABLE_SLOTS = 16  # values of a 4-bit table, padded with the largest float32 (midpoints: one fewer)
MIN_ABSMAX = F32(1e-38)  # bitsandbytes' clamp of a block's absmax before its inverse is taken
STRIPES = 64  # parallel slices of a 4-bit chunk's blocks, each with its own counts


# numba's own thread pool: its OpenMP layer, next to torch's OpenMP runtime in the same process, made torch's
# operations about 30x slower for the rest of the process (measured). That pool takes one launch at a time.
numba.config.THREADING_LAYER = "workqueue"
LAUNCH = threading.Lock()


def use_threads(count: int) -> None:
    """Run the kernels on `count` threads (at most the cores numba started with)."""
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))


@njit(parallel=True, error_model="numpy", cache=True)
def _widen_bfloat16(halves, words):
    """bfloat16 bit patterns (uint16) to float32 bit patterns (uint32): the same bits, 16 zero bits after."""
    for i in prange(halves.shape[0]):
        words[i] = np.uint32(halves[i]) << 16


def bfloat16_to_float32(halves: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 weights given as their uint16 bit patterns, converted here rather than by torch:
    torch's own thread pool, busy right after each kernel's, slowed that conversion about 20x in a scan (measured)."""
    words: np.ndarray = np.empty(halves.shape, np.uint32)
    with LAUNCH:
        _widen_bfloat16(halves.reshape(-1), words.reshape(-1))
    return words.view(np.float32)


@dataclass(frozen=True)
class EncodedChunk:
    """The quantized form of a chunk: one-byte codes, group scales and (asymmetric RTN) zero points."""

    codes: np.ndarray  # uint8, the chunk's shape
    scales: np.ndarray  # float32, one per group
    zero_points: np.ndarray | None  # int32, one per group, or None


@dataclass(frozen=True)
class PairCounts:
    """The collision counts of one pair of chunks."""

    equal_codes: int
    moved: int  # weights that differ between the two chunks
    equal_moved: int  # of those, the ones that keep their code
    equal_scales: int
    n_scales: int
    histogram: np.ndarray  # int64, bins + 1 (worker.engine.collision.distance_histogram)


@njit(inline="always", error_model="numpy")
def _distance_bin(target: F32, unlearned: F32, width: F32, half_bins: F32, bins: int) -> np.uint8:
    """|dw| / bucket width as a histogram bin (collision.distance_histogram): a weight that did not move is in
    bin 0, one that moved out of a zero-width bucket or 2 buckets or more in the last, written without NaN."""
    moved = abs(unlearned - target) * half_bins
    if moved == 0:
        return np.uint8(0)
    return np.uint8(bins if width == 0 else I32(min(moved / width, F32(bins))))


@njit(inline="always", error_model="numpy")
def _histogram(bin_of: Any, start: int, end: int, histogram: Any) -> None:
    """Count the bins a loop wrote (a scatter in that loop would keep it from being vectorised)."""
    for i in range(start, end):
        histogram[bin_of[i]] += 1


# --- round to nearest (worker.engine.quantizers.rtn.rtn_grid) ------------------------------------------------


@njit(inline="always", error_model="numpy")
def _rtn_group(row: Any, start: int, end: int, high: int, symmetric: bool) -> tuple[F32, F32, F32]:
    """(step, the step used to divide (1 for a zero group), zero point) of one group of a row."""
    if symmetric:
        absmax = F32(0.0)
        for i in range(start, end):
            magnitude = abs(row[i])
            absmax = magnitude if magnitude > absmax else absmax  # a select, so that the loop is vectorised
        step = absmax / F32(high)
        return step, step if step > 0 else F32(1.0), F32(0.0)
    low = F32(0.0)
    top = F32(0.0)
    for i in range(start, end):
        value = row[i]
        low = value if value < low else low
        top = value if value > top else top
    step = (top - low) / F32(high)
    safe = step if step > 0 else F32(1.0)
    return step, safe, np.rint(-low / safe)


@njit(inline="always", error_model="numpy")
def _rtn_code(value: F32, safe: F32, zero_point: F32, low: int, high: int) -> I32:
    return I32(min(max(np.rint(value / safe) + zero_point, F32(low)), F32(high)))


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _rtn_row_codes(row: Any, group_size: int, low: int, high: int, symmetric: bool, codes: Any, scales: Any,
                   zero_points: Any) -> None:  # fmt: skip
    columns = row.shape[0]
    for g in range(scales.shape[0]):
        start, end = g * group_size, min(g * group_size + group_size, columns)
        step, safe, zero_point = _rtn_group(row, start, end, high, symmetric)
        scales[g], zero_points[g] = step, I32(zero_point)
        for i in range(start, end):
            codes[i] = np.uint8(_rtn_code(row[i], safe, zero_point, low, high) - low)


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _rtn_row_pair(
    target: Any,
    unlearned: Any,
    group_size: int,
    low: int,
    high: int,
    symmetric: bool,
    bins: int,
    codes: Any,
    scales: Any,
    zero_points: Any,
    counts: Any,
    histogram: Any,
    bin_of: Any,
) -> None:
    """One row of both models: codes, steps, zero points ((target, unlearned) pairs of 1-D rows: a strided 2-D
    slice would keep the loop from being vectorised), the counts and the histogram (see rtn_scan)."""
    t_codes, u_codes = codes
    columns, half_bins = target.shape[0], F32(bins / 2.0)
    equal_codes = moved = equal_moved = equal_steps = 0
    for g in range(scales[0].shape[0]):
        start, end = g * group_size, min(g * group_size + group_size, columns)
        t_step, t_safe, t_zero = _rtn_group(target, start, end, high, symmetric)
        u_step, u_safe, u_zero = _rtn_group(unlearned, start, end, high, symmetric)
        scales[0][g], zero_points[0][g], scales[1][g], zero_points[1][g] = t_step, I32(t_zero), u_step, I32(u_zero)
        equal_steps += t_step == u_step
        for i in range(start, end):
            t_value, u_value = target[i], unlearned[i]
            t_code = _rtn_code(t_value, t_safe, t_zero, low, high)
            u_code = _rtn_code(u_value, u_safe, u_zero, low, high)
            t_codes[i], u_codes[i] = np.uint8(t_code - low), np.uint8(u_code - low)
            bin_of[i] = _distance_bin(t_value, u_value, t_step, half_bins, bins)
            equal, changed = t_code == u_code, t_value != u_value
            equal_codes += equal
            moved += changed
            equal_moved += equal & changed
    _histogram(bin_of, 0, columns, histogram)
    counts[0], counts[1], counts[2], counts[3] = equal_codes, moved, equal_moved, equal_steps


@njit(parallel=True, error_model="numpy", cache=True)
def rtn_encode(weights, group_size, low, high, symmetric, codes, scales, zero_points):
    """Codes (minus `low`), steps and zero points of a chunk of rows [rows, in_features]."""
    for r in prange(weights.shape[0]):
        _rtn_row_codes(weights[r], group_size, low, high, symmetric, codes[r], scales[r], zero_points[r])


@njit(parallel=True, error_model="numpy", cache=True)
def rtn_scan(target, unlearned, group_size, low, high, symmetric, bins, codes, scales, zero_points, counts, histogram,
             bin_of):  # fmt: skip
    """Both chunks' codes, steps and zero points ([2, rows, ...]) and per row: equal codes, moved, equal moved,
    equal steps (counts[r]) and the distance histogram over the target's step (histogram[r])."""
    for r in prange(target.shape[0]):
        _rtn_row_pair(target[r], unlearned[r], group_size, low, high, symmetric, bins, (codes[0, r], codes[1, r]),
                      (scales[0, r], scales[1, r]), (zero_points[0, r], zero_points[1, r]), counts[r], histogram[r],
                      bin_of[r])  # fmt: skip


# --- bitsandbytes 4-bit (worker.engine.quantizers.bnb) --------------------------------------------------------
# A 4-bit table has at most 16 distinct values, so 15 midpoints: each weight is compared with all of them (padded
# with the largest float32), written out so that the loop over weights is vectorised; its code is the index of its
# value among the distinct values (a one-to-one renaming of bitsandbytes' codes; FP4's -0 and +0 are one).


@njit(inline="always", error_model="numpy")
def _nearest(scaled: F32, midpoints: Any) -> I32:
    """The index of the table value nearest to `scaled`: how many midpoints lie below it."""
    m = midpoints
    return (I32(scaled > m[0]) + I32(scaled > m[1]) + I32(scaled > m[2]) + I32(scaled > m[3]) + I32(scaled > m[4])
            + I32(scaled > m[5]) + I32(scaled > m[6]) + I32(scaled > m[7]) + I32(scaled > m[8]) + I32(scaled > m[9])
            + I32(scaled > m[10]) + I32(scaled > m[11]) + I32(scaled > m[12]) + I32(scaled > m[13])
            + I32(scaled > m[14]))  # fmt: skip


@njit(inline="always", error_model="numpy")
def _bracket(scaled: F32, value: F32, below: F32, above: F32) -> tuple[F32, F32]:
    """The closest table values at or below and above `scaled`, updated with one more value."""
    return max(below, value if value <= scaled else -BIG), min(above, value if value > scaled else BIG)


@njit(inline="always", error_model="numpy")
def _table_gap(scaled: F32, values: Any, last_gap: F32) -> F32:
    """The gap between the table values around `scaled` (quantizers.bnb: the last gap at the top of the table)."""
    v, below, above = values, -BIG, BIG
    below, above = _bracket(scaled, v[0], below, above)
    below, above = _bracket(scaled, v[1], below, above)
    below, above = _bracket(scaled, v[2], below, above)
    below, above = _bracket(scaled, v[3], below, above)
    below, above = _bracket(scaled, v[4], below, above)
    below, above = _bracket(scaled, v[5], below, above)
    below, above = _bracket(scaled, v[6], below, above)
    below, above = _bracket(scaled, v[7], below, above)
    below, above = _bracket(scaled, v[8], below, above)
    below, above = _bracket(scaled, v[9], below, above)
    below, above = _bracket(scaled, v[10], below, above)
    below, above = _bracket(scaled, v[11], below, above)
    below, above = _bracket(scaled, v[12], below, above)
    below, above = _bracket(scaled, v[13], below, above)
    below, above = _bracket(scaled, v[14], below, above)
    below, above = _bracket(scaled, v[15], below, above)
    return last_gap if above == BIG else above - below


@njit(inline="always", error_model="numpy")
def _block_scale(flat: Any, start: int, end: int, block_size: int) -> tuple[F32, F32]:
    """(reported absmax, divisor) of one block: bitsandbytes multiplies a full block by 1 / absmax and divides
    the short last one by its absmax clamped above 0 (quantizers.bnb.blockwise_scaled), and reports that."""
    absmax = F32(0.0)
    for i in range(start, end):
        magnitude = abs(flat[i])
        absmax = magnitude if magnitude > absmax else absmax
    clamped = max(absmax, MIN_ABSMAX)
    return (absmax if end - start == block_size else clamped), clamped


@njit(inline="always", error_model="numpy")
def _scaled(value: F32, inverse: F32, divisor: F32, full_block: bool) -> F32:
    scaled = value * inverse if full_block else value / divisor
    return min(max(scaled, F32(-1.0)), F32(1.0))


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _four_bit_stripe_codes(flat: Any, first: int, last: int, block_size: int, midpoints: Any, codes: Any,
                           scales: Any) -> None:  # fmt: skip
    for b in range(first, last):
        start, end = b * block_size, min(b * block_size + block_size, flat.shape[0])
        scales[b], divisor = _block_scale(flat, start, end, block_size)
        inverse, full_block = F32(1.0) / divisor, end - start == block_size
        for i in range(start, end):
            codes[i] = np.uint8(_nearest(_scaled(flat[i], inverse, divisor, full_block), midpoints))


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _four_bit_stripe_pair(
    target: Any,
    unlearned: Any,
    first: int,
    last: int,
    block_size: int,
    table: Any,
    bins: int,
    codes: Any,
    scales: Any,
    counts: Any,
    histogram: Any,
    bin_of: Any,
) -> None:
    """Blocks first..last of both models (see four_bit_scan); `table`: (midpoints, values, last gap); `codes` and
    `scales`: (target, unlearned) 1-D arrays."""
    midpoints, values, last_gap = table
    (t_codes, u_codes), (t_scales, u_scales) = codes, scales
    half_bins = F32(bins / 2.0)
    equal_codes = moved = equal_moved = equal_scales = 0
    for b in range(first, last):
        start, end = b * block_size, min(b * block_size + block_size, target.shape[0])
        t_absmax, t_divisor = _block_scale(target, start, end, block_size)
        u_absmax, u_divisor = _block_scale(unlearned, start, end, block_size)
        t_inverse, u_inverse, full_block = F32(1.0) / t_divisor, F32(1.0) / u_divisor, end - start == block_size
        t_scales[b], u_scales[b] = t_absmax, u_absmax
        equal_scales += t_absmax == u_absmax
        for i in range(start, end):
            t_value, u_value = target[i], unlearned[i]
            t_scaled = _scaled(t_value, t_inverse, t_divisor, full_block)
            t_code = _nearest(t_scaled, midpoints)
            u_code = _nearest(_scaled(u_value, u_inverse, u_divisor, full_block), midpoints)
            t_codes[i], u_codes[i] = np.uint8(t_code), np.uint8(u_code)
            width = _table_gap(t_scaled, values, last_gap) * t_absmax
            bin_of[i] = _distance_bin(t_value, u_value, width, half_bins, bins)
            equal, changed = t_code == u_code, t_value != u_value
            equal_codes += equal
            moved += changed
            equal_moved += equal & changed
    _histogram(bin_of, first * block_size, min(last * block_size, target.shape[0]), histogram)
    counts[0], counts[1], counts[2], counts[3] = equal_codes, moved, equal_moved, equal_scales


@njit(parallel=True, error_model="numpy", cache=True)
def four_bit_encode(flat, block_size, midpoints, codes, scales):
    """4-bit codes and absmax per block of a flattened chunk (whole blocks, but for the matrix's last one)."""
    n_blocks = scales.shape[0]
    per_stripe = -(-n_blocks // STRIPES)
    for s in prange(STRIPES):
        first, last = min(s * per_stripe, n_blocks), min(s * per_stripe + per_stripe, n_blocks)
        _four_bit_stripe_codes(flat, first, last, block_size, midpoints, codes, scales)


@njit(parallel=True, error_model="numpy", cache=True)
def four_bit_scan(target, unlearned, block_size, midpoints, values, last_gap, bins, codes, scales, counts, histogram,
                  bin_of):  # fmt: skip
    """rtn_scan's outputs for 4-bit blocks over flattened chunks, per stripe of blocks (counts[s], histogram[s]);
    the bucket width of a target weight is the gap between the table values around it times its block's absmax."""
    n_blocks, stripes = scales.shape[1], counts.shape[0]
    per_stripe = -(-n_blocks // stripes)
    for s in prange(stripes):
        first, last = min(s * per_stripe, n_blocks), min(s * per_stripe + per_stripe, n_blocks)
        _four_bit_stripe_pair(
            target,
            unlearned,
            first,
            last,
            block_size,
            (midpoints, values, last_gap),
            bins,
            (codes[0], codes[1]),
            (scales[0], scales[1]),
            counts[s],
            histogram[s],
            bin_of,
        )


# --- the kernels as quantizers offer them (Quantizer.scan_kernel) ---------------------------------------------


class ScanKernel(ABC):
    """One quantizer's codes in fused form: `encode` one chunk, or `scan` a pair with the collision counts.

    Chunks are float32 numpy arrays [rows, in_features] of whole quantization groups (collision.row_chunks).
    """

    @abstractmethod
    def encode(self, weights: np.ndarray) -> EncodedChunk: ...

    @abstractmethod
    def scan(
        self, target: np.ndarray, unlearned: np.ndarray, bins: int
    ) -> tuple[EncodedChunk, EncodedChunk, PairCounts]: ...


def pair_counts(counts: np.ndarray, histogram: np.ndarray, n_scales: int) -> PairCounts:
    """Sum the per-row or per-stripe counts of a scan."""
    equal_codes, moved, equal_moved, equal_scales = (int(total) for total in counts.sum(axis=0))
    return PairCounts(equal_codes, moved, equal_moved, equal_scales, n_scales, histogram.sum(axis=0))


@dataclass(frozen=True)
class RTNKernel(ScanKernel):
    """quantizers.rtn.rtn_grid (without compressed-tensors' half-range step)."""

    bits: int
    group_size: int | None
    symmetric: bool

    def encode(self, weights: np.ndarray) -> EncodedChunk:
        size, low, high, groups = self._grid(weights.shape[1])
        codes: np.ndarray = np.empty(weights.shape, np.uint8)
        scales: np.ndarray = np.empty((weights.shape[0], groups), np.float32)
        zero_points: np.ndarray = np.empty((weights.shape[0], groups), np.int32)
        with LAUNCH:
            rtn_encode(weights, size, low, high, self.symmetric, codes, scales, zero_points)
        return EncodedChunk(codes, scales, None if self.symmetric else zero_points)

    def scan(
        self, target: np.ndarray, unlearned: np.ndarray, bins: int
    ) -> tuple[EncodedChunk, EncodedChunk, PairCounts]:
        rows, columns = target.shape
        size, low, high, groups = self._grid(columns)
        codes: np.ndarray = np.empty((2, rows, columns), np.uint8)
        scales: np.ndarray = np.empty((2, rows, groups), np.float32)
        zero_points: np.ndarray = np.empty((2, rows, groups), np.int32)
        counts: np.ndarray = np.zeros((rows, 4), np.int64)
        histogram: np.ndarray = np.zeros((rows, bins + 1), np.int64)
        bin_of: np.ndarray = np.empty(target.shape, np.uint8)
        with LAUNCH:
            rtn_scan(target, unlearned, size, low, high, self.symmetric, bins, codes, scales, zero_points,
                     counts, histogram, bin_of)  # fmt: skip
        encoded = [EncodedChunk(codes[i], scales[i], None if self.symmetric else zero_points[i]) for i in (0, 1)]
        return encoded[0], encoded[1], pair_counts(counts, histogram, scales[0].size)

    def _grid(self, columns: int) -> tuple[int, int, int, int]:
        """(group size, lowest code, highest code, groups per row)."""
        size = columns if self.group_size is None else min(self.group_size, columns)
        if self.symmetric:
            low, high = -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        else:
            low, high = 0, 2**self.bits - 1
        return size, low, high, -(-columns // size)


@dataclass(frozen=True)
class FourBitTable:
    """A 4-bit code table (bitsandbytes' FP4 or NF4) as the kernels read it: its distinct values, sorted."""

    values: np.ndarray  # float32, TABLE_SLOTS: the distinct values, sorted, padded with the largest float32
    midpoints: (
        np.ndarray
    )  # float32, TABLE_SLOTS - 1: between consecutive distinct values, padded with the largest float32
    last_gap: np.float32  # between the two largest values (the bucket width at the top of the table)
    codes: np.ndarray  # uint8: bitsandbytes' code of each distinct value (FP4's zero: its +0 code)

    @classmethod
    def of(cls, table: np.ndarray) -> "FourBitTable":
        distinct = np.unique(table.astype(np.float32))  # FP4's -0 and +0 are one value
        values: np.ndarray = np.full(TABLE_SLOTS, BIG, np.float32)
        values[: distinct.size] = distinct
        midpoints: np.ndarray = np.full(TABLE_SLOTS - 1, BIG, np.float32)
        midpoints[: distinct.size - 1] = (distinct[:-1] + distinct[1:]) / np.float32(2)
        codes = np.array([np.flatnonzero(table == value)[0] for value in distinct], np.uint8)
        return cls(values, midpoints, distinct[-1] - distinct[-2], codes)


@dataclass(frozen=True)
class FourBitKernel(ScanKernel):
    """quantizers.bnb's 4-bit codes: absmax per block of `block_size` consecutive weights of the flat matrix.
    A code is the index of its value in `table.values`; `table.codes` maps it to bitsandbytes' code."""

    table: FourBitTable
    block_size: int

    def encode(self, weights: np.ndarray) -> EncodedChunk:
        flat = weights.reshape(-1)
        codes: np.ndarray = np.empty(flat.shape, np.uint8)
        scales: np.ndarray = np.empty(-(-flat.size // self.block_size), np.float32)
        with LAUNCH:
            four_bit_encode(flat, self.block_size, self.table.midpoints, codes, scales)
        return EncodedChunk(codes.reshape(weights.shape), scales, None)

    def scan(
        self, target: np.ndarray, unlearned: np.ndarray, bins: int
    ) -> tuple[EncodedChunk, EncodedChunk, PairCounts]:
        flat_target, flat_unlearned = target.reshape(-1), unlearned.reshape(-1)
        n_blocks = -(-flat_target.size // self.block_size)
        codes: np.ndarray = np.empty((2, flat_target.size), np.uint8)
        scales: np.ndarray = np.empty((2, n_blocks), np.float32)
        stripes = min(n_blocks, STRIPES)
        counts: np.ndarray = np.zeros((stripes, 4), np.int64)
        histogram: np.ndarray = np.zeros((stripes, bins + 1), np.int64)
        bin_of: np.ndarray = np.empty(flat_target.size, np.uint8)
        table = self.table
        with LAUNCH:
            four_bit_scan(flat_target, flat_unlearned, self.block_size, table.midpoints, table.values, table.last_gap,
                          bins, codes, scales, counts, histogram, bin_of)  # fmt: skip
        encoded = [EncodedChunk(codes[i].reshape(target.shape), scales[i], None) for i in (0, 1)]
        return encoded[0], encoded[1], pair_counts(counts, histogram, n_blocks)
