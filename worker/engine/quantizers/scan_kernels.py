"""Fused CPU kernels for streaming over checkpoints: the codes of a weight chunk, or of a pair of chunks (target,
unlearned) with every count of bucket collision, in one pass over each quantization group.

The generic path (a quantizer's `weight_codes`, then tensor operations in worker.engine.collision) makes about
thirty passes over each chunk; these loops make a few over each group while it is in the CPU's cache, compiled
by numba and spread over the CPU's threads. They
compute exactly what the quantizers' `weight_codes` compute, with the same float32 operations in the same order
(tests/worker/engine/quantizers/test_scan_kernels.py compares both paths on edge cases: short last groups,
groups of zeros, ties, FP4's two zeros): the torch code stays the definition, these loops are its fast form on
a CPU, where collision runs. Codes come out in one byte (RTN codes shifted to start at 0), which is also what
the identity digest hashes.

A kernel takes chunks as kernel_input gives them (float32, or bfloat16 as bit patterns that it widens itself)
and writes into arrays it is given; the histogram and the counts are kept per row or per stripe of blocks so
that threads never write the same cell.

Written so that LLVM vectorises the loops over weights (checked in the generated code; each rule cost 2-10x
when broken, measured): loops run over slices from index 0 (an offset index keeps a negative-index check in
the loop), a loop stores to few arrays (codes, then bins, then counts in loops of their own), group minima and
maxima are taken over the float bits as integers (float min/max reductions stayed scalar), and the 4-bit
table is read into scalars before the loop (read from arrays it was reloaded for every weight).
"""

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch
from numba import njit, prange
from numba.extending import overload

F32 = np.float32
I32 = np.int32
KERNEL_MATH = {"nnan", "nsz"}  # lets a max/min over a group be vectorised (weights are numbers; no NaN is relied on)
BIG = np.float32(np.finfo(np.float32).max)  # above every table value (no infinity under KERNEL_MATH)
TABLE_SLOTS = 16  # values of a 4-bit table, padded with the largest float32 (midpoints: one fewer)
MIN_ABSMAX = F32(1e-38)  # bitsandbytes' clamp of a block's absmax before its inverse is taken
STRIPES = 64  # parallel slices of a 4-bit chunk's blocks, each with its own counts
SUB_BLOCKS = 64  # 4-bit blocks widened from bfloat16 at a time (a few KB that stay in the CPU's cache)


# numba's own thread pool: its OpenMP layer, next to torch's OpenMP runtime in the same process, made torch's
# operations about 30x slower for the rest of the process (measured). That pool takes one launch at a time.
numba.config.THREADING_LAYER = "workqueue"
LAUNCH = threading.Lock()


def use_threads(count: int) -> None:
    """Run the kernels on `count` threads (at most the cores numba started with)."""
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))


def kernel_input(tensor: torch.Tensor) -> np.ndarray:
    """A weight chunk as a kernel reads it: bfloat16 as its uint16 bit patterns (widened inside the kernel, a
    row or a few blocks at a time, which a separate conversion pass over the chunk took longer than the kernel
    itself), float32 as it is, any other dtype converted to float32."""
    tensor = tensor.detach().contiguous()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(np.uint16)
    return tensor.numpy().astype(np.float32, copy=False)


def _values(raw: np.ndarray, start: int, end: int) -> np.ndarray:
    """raw[start:end] as float32 (compiled form below)."""
    raise NotImplementedError  # pragma: no cover (numba compiles the overload)


@overload(_values, inline="always")
def _values_compiled(raw: Any, start: Any, end: Any) -> Any:
    if raw.dtype == numba.types.uint16:  # bfloat16 bit patterns: the same bits, 16 zero bits after

        def widen(raw: Any, start: Any, end: Any) -> Any:
            halves = raw[start:end]
            words = np.empty(halves.shape[0], np.uint32)
            for i in range(halves.shape[0]):
                words[i] = np.uint32(halves[i]) << 16
            return words.view(np.float32)

        return widen

    def as_stored(raw: Any, start: Any, end: Any) -> Any:
        return raw[start:end]

    return as_stored


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
    bin 0, one that moved out of a zero-width bucket or 2 buckets or more in the last (selects, no branch)."""
    moved = abs(unlearned - target) * half_bins
    scaled = F32(bins) if width == 0 else min(moved / width, F32(bins))
    return np.uint8(I32(F32(0.0) if moved == 0 else scaled))


@njit(inline="always", error_model="numpy")
def _histogram(bin_of: Any, histogram: Any) -> None:
    """Count the bins a loop wrote (a scatter in that loop would keep it from being vectorised), into four
    partial histograms in turn: most weights share a bin, and one counter would wait on its own last store."""
    partial = np.zeros((4, histogram.shape[0]), np.int64)
    quarter = bin_of.shape[0] // 4
    for i in range(quarter):
        partial[0, bin_of[4 * i]] += 1
        partial[1, bin_of[4 * i + 1]] += 1
        partial[2, bin_of[4 * i + 2]] += 1
        partial[3, bin_of[4 * i + 3]] += 1
    for i in range(4 * quarter, bin_of.shape[0]):
        partial[0, bin_of[i]] += 1
    for b in range(histogram.shape[0]):
        histogram[b] += partial[0, b] + partial[1, b] + partial[2, b] + partial[3, b]


@njit(inline="always", error_model="numpy")
def _pair_counts(target: Any, unlearned: Any, t_codes: Any, u_codes: Any) -> tuple[Any, Any, Any]:
    """(weights with equal codes, weights that moved, moved weights with equal codes)."""
    equal_codes = moved = equal_moved = I32(0)
    for i in range(target.shape[0]):
        equal, changed = I32(t_codes[i] == u_codes[i]), I32(target[i] != unlearned[i])
        equal_codes += equal
        moved += changed
        equal_moved += equal & changed
    return equal_codes, moved, equal_moved


# --- round to nearest (worker.engine.quantizers.rtn.rtn_grid) ------------------------------------------------


@njit(inline="always", error_model="numpy")
def _ordered(bits: I32) -> I32:
    """A float32's bits as an int32 that orders as the floats do (its own inverse: keys back to bits)."""
    return bits ^ ((bits >> 31) & I32(0x7FFFFFFF))


@njit(inline="always", error_model="numpy")
def _scratch() -> np.ndarray:
    """Two int32 that _group_range turns float bits back into floats with."""
    return np.empty(2, np.int32)


@njit(inline="always", error_model="numpy")
def _group_range(group: Any, symmetric: bool, scratch: Any) -> tuple[F32, F32]:
    """(lowest, highest) of a group with 0 among them, or (0, largest magnitude) when symmetric; taken over the
    float bits as integers, a loop that is vectorised (a float min/max loop was not: 5x slower, measured).
    `scratch`: two int32 to turn the bits back into floats. -0.0 may come out as the lowest: same step."""
    bits = group.view(np.int32)
    low = top = I32(0)
    if symmetric:
        for i in range(bits.shape[0]):
            magnitude = bits[i] & I32(0x7FFFFFFF)
            top = magnitude if magnitude > top else top
    else:
        for i in range(bits.shape[0]):
            key = _ordered(bits[i])
            low = key if key < low else low
            top = key if key > top else top
        low, top = _ordered(low), _ordered(top)
    scratch[0], scratch[1] = low, top
    values = scratch.view(np.float32)
    return values[0], values[1]


@njit(inline="always", error_model="numpy")
def _rtn_group(group: Any, high: int, symmetric: bool, scratch: Any) -> tuple[F32, F32, F32]:
    """(step, the step used to divide (1 for a zero group), zero point) of one group of a row."""
    low, top = _group_range(group, symmetric, scratch)
    step = (top - low) / F32(high)
    safe = step if step > 0 else F32(1.0)
    return step, safe, F32(0.0) if symmetric else np.rint(-low / safe)


@njit(inline="always", error_model="numpy")
def _rtn_code(value: F32, safe: F32, zero_point: F32, low: F32, high: F32) -> F32:
    """The code of a weight (a whole number in float32), minus the lowest code."""
    return min(max(np.rint(value / safe) + zero_point, low), high) - low


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _rtn_row_codes(raw: Any, group_size: int, low: int, high: int, symmetric: bool, codes: Any, scales: Any,
                   zero_points: Any) -> None:  # fmt: skip
    row = _values(raw, 0, raw.shape[0])
    columns, low_value, high_value, scratch = row.shape[0], F32(low), F32(high), _scratch()
    for g in range(scales.shape[0]):
        start, end = g * group_size, min(g * group_size + group_size, columns)
        group, group_codes = row[start:end], codes[start:end]
        step, safe, zero_point = _rtn_group(group, high, symmetric, scratch)
        scales[g], zero_points[g] = step, I32(zero_point)
        for i in range(group.shape[0]):
            group_codes[i] = np.uint8(I32(_rtn_code(group[i], safe, zero_point, low_value, high_value)))


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _rtn_row_pair(
    target_raw: Any,
    unlearned_raw: Any,
    group_size: int,
    low: int,
    high: int,
    symmetric: bool,
    bins: int,
    t_codes: Any,
    u_codes: Any,
    t_scales: Any,
    u_scales: Any,
    t_zero_points: Any,
    u_zero_points: Any,
    counts: Any,
    histogram: Any,
) -> None:
    """One row of both models: codes, steps, zero points, the counts and the histogram (see rtn_scan)."""
    target, unlearned = _values(target_raw, 0, target_raw.shape[0]), _values(unlearned_raw, 0, unlearned_raw.shape[0])
    columns, half_bins, low_value, high_value = target.shape[0], F32(bins / 2.0), F32(low), F32(high)
    bin_of, scratch = np.empty(columns, np.uint8), _scratch()
    equal_steps = 0
    for g in range(t_scales.shape[0]):
        start, end = g * group_size, min(g * group_size + group_size, columns)
        t_group, u_group, t_group_codes, u_group_codes = (
            target[start:end],
            unlearned[start:end],
            t_codes[start:end],
            u_codes[start:end],
        )
        group_bins = bin_of[start:end]
        t_step, t_safe, t_zero = _rtn_group(t_group, high, symmetric, scratch)
        u_step, u_safe, u_zero = _rtn_group(u_group, high, symmetric, scratch)
        t_scales[g], t_zero_points[g], u_scales[g], u_zero_points[g] = t_step, I32(t_zero), u_step, I32(u_zero)
        equal_steps += t_step == u_step
        for i in range(t_group.shape[0]):
            t_group_codes[i] = np.uint8(I32(_rtn_code(t_group[i], t_safe, t_zero, low_value, high_value)))
            u_group_codes[i] = np.uint8(I32(_rtn_code(u_group[i], u_safe, u_zero, low_value, high_value)))
        for i in range(t_group.shape[0]):
            group_bins[i] = _distance_bin(t_group[i], u_group[i], t_step, half_bins, bins)
    counts[0], counts[1], counts[2] = _pair_counts(target, unlearned, t_codes, u_codes)
    counts[3] = equal_steps
    _histogram(bin_of, histogram)


@njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def rtn_encode(weights, group_size, low, high, symmetric, codes, scales, zero_points):
    """Codes (minus `low`), steps and zero points of a chunk of rows [rows, in_features]."""
    for r in prange(weights.shape[0]):
        _rtn_row_codes(weights[r], group_size, low, high, symmetric, codes[r], scales[r], zero_points[r])


@njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def rtn_scan(target, unlearned, group_size, low, high, symmetric, bins, codes, scales, zero_points, counts, histogram):
    """Both chunks' codes, steps and zero points ([2, rows, ...]) and per row: equal codes, moved, equal moved,
    equal steps (counts[r]) and the distance histogram over the target's step (histogram[r])."""
    for r in prange(target.shape[0]):
        _rtn_row_pair(target[r], unlearned[r], group_size, low, high, symmetric, bins, codes[0, r], codes[1, r],
                      scales[0, r], scales[1, r], zero_points[0, r], zero_points[1, r], counts[r],
                      histogram[r])  # fmt: skip


# --- bitsandbytes 4-bit (worker.engine.quantizers.bnb) --------------------------------------------------------
# A 4-bit table has at most 16 distinct values, so 15 midpoints: each weight is compared with all of them (padded
# with the largest float32), written out so that the loop over weights is vectorised; its code is the index of its
# value among the distinct values (a one-to-one renaming of bitsandbytes' codes; FP4's -0 and +0 are one).


@njit(inline="always", error_model="numpy")
def _midpoint_scalars(m: Any) -> Any:
    """The midpoints as a tuple of scalars: read from an array, the compiler reloaded them for every weight (the
    stores of the loop might have changed them) and did not vectorise the loop (0.65 against 6 ns, measured)."""
    return (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11], m[12], m[13], m[14])


@njit(inline="always", error_model="numpy")
def _table_scalars(midpoints: Any, values: Any, gaps: Any) -> tuple[Any, Any, Any]:
    """The whole table as tuples of scalars (see _midpoint_scalars)."""
    v, g = values, gaps
    return (
        _midpoint_scalars(midpoints),
        (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]),
        (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15], g[16]),
    )


@njit(inline="always", error_model="numpy")
def _nearest(scaled: F32, midpoints: Any) -> I32:
    """The index of the table value nearest to `scaled`: how many midpoints lie below it."""
    m = midpoints
    return (I32(scaled > m[0]) + I32(scaled > m[1]) + I32(scaled > m[2]) + I32(scaled > m[3]) + I32(scaled > m[4])
            + I32(scaled > m[5]) + I32(scaled > m[6]) + I32(scaled > m[7]) + I32(scaled > m[8]) + I32(scaled > m[9])
            + I32(scaled > m[10]) + I32(scaled > m[11]) + I32(scaled > m[12]) + I32(scaled > m[13])
            + I32(scaled > m[14]))  # fmt: skip


@njit(inline="always", error_model="numpy")
def _table_gap(scaled: F32, values: Any, gaps: Any) -> F32:
    """The gap between the table values around `scaled` (quantizers.bnb: the last gap at the top of the table):
    gaps[c] for the c table values at or below it, chosen by selects (values ascend, so the last true one wins)."""
    v = values
    g = gaps[0]
    g = gaps[1] if v[0] <= scaled else g
    g = gaps[2] if v[1] <= scaled else g
    g = gaps[3] if v[2] <= scaled else g
    g = gaps[4] if v[3] <= scaled else g
    g = gaps[5] if v[4] <= scaled else g
    g = gaps[6] if v[5] <= scaled else g
    g = gaps[7] if v[6] <= scaled else g
    g = gaps[8] if v[7] <= scaled else g
    g = gaps[9] if v[8] <= scaled else g
    g = gaps[10] if v[9] <= scaled else g
    g = gaps[11] if v[10] <= scaled else g
    g = gaps[12] if v[11] <= scaled else g
    g = gaps[13] if v[12] <= scaled else g
    g = gaps[14] if v[13] <= scaled else g
    g = gaps[15] if v[14] <= scaled else g
    g = gaps[16] if v[15] <= scaled else g
    return g


@njit(inline="always", error_model="numpy")
def _block_scale(block: Any, block_size: int, scratch: Any) -> tuple[F32, F32]:
    """(reported absmax, divisor) of one block: bitsandbytes multiplies a full block by 1 / absmax and divides
    the short last one by its absmax clamped above 0 (quantizers.bnb.blockwise_scaled), and reports that."""
    absmax = _group_range(block, True, scratch)[1]
    clamped = max(absmax, MIN_ABSMAX)
    return (absmax if block.shape[0] == block_size else clamped), clamped


@njit(inline="always", error_model="numpy")
def _scaled(value: F32, inverse: F32, divisor: F32, full_block: bool) -> F32:
    scaled = value * inverse if full_block else value / divisor
    return min(max(scaled, F32(-1.0)), F32(1.0))


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _four_bit_stripe_codes(raw: Any, first: int, last: int, block_size: int, midpoint_array: Any, codes: Any,
                           scales: Any) -> None:  # fmt: skip
    size, scratch, midpoints = raw.shape[0], _scratch(), _midpoint_scalars(midpoint_array)
    for sub in range(first, last, SUB_BLOCKS):
        sub_last, base = min(sub + SUB_BLOCKS, last), sub * block_size
        flat = _values(raw, base, min(sub_last * block_size, size))
        for b in range(sub, sub_last):
            start, end = b * block_size - base, min(b * block_size + block_size, size) - base
            block, block_codes = flat[start:end], codes[base + start : base + end]
            scales[b], divisor = _block_scale(block, block_size, scratch)
            inverse, full_block = F32(1.0) / divisor, end - start == block_size
            for i in range(block.shape[0]):
                block_codes[i] = np.uint8(_nearest(_scaled(block[i], inverse, divisor, full_block), midpoints))


@njit(error_model="numpy", fastmath=KERNEL_MATH)
def _four_bit_stripe_pair(
    target_raw: Any,
    unlearned_raw: Any,
    first: int,
    last: int,
    block_size: int,
    table: Any,
    bins: int,
    t_codes: Any,
    u_codes: Any,
    t_scales: Any,
    u_scales: Any,
    counts: Any,
    histogram: Any,
) -> None:
    """Blocks first..last of both models (see four_bit_scan), a few blocks at a time; `table`: (midpoints,
    values, gaps) arrays (FourBitTable)."""
    midpoints, values, gaps = _table_scalars(table[0], table[1], table[2])
    size, half_bins, scratch = target_raw.shape[0], F32(bins / 2.0), _scratch()
    equal_codes = moved = equal_moved = equal_scales = 0
    for sub in range(first, last, SUB_BLOCKS):
        sub_last, base = min(sub + SUB_BLOCKS, last), sub * block_size
        sub_end = min(sub_last * block_size, size)
        target, unlearned = _values(target_raw, base, sub_end), _values(unlearned_raw, base, sub_end)
        bin_of = np.empty(sub_end - base, np.uint8)
        for b in range(sub, sub_last):
            start, end = b * block_size - base, min(b * block_size + block_size, size) - base
            t_block, u_block, block_bins = target[start:end], unlearned[start:end], bin_of[start:end]
            t_block_codes, u_block_codes = t_codes[base + start : base + end], u_codes[base + start : base + end]
            t_absmax, t_divisor = _block_scale(t_block, block_size, scratch)
            u_absmax, u_divisor = _block_scale(u_block, block_size, scratch)
            t_inverse, u_inverse, full_block = F32(1.0) / t_divisor, F32(1.0) / u_divisor, end - start == block_size
            t_scales[b], u_scales[b] = t_absmax, u_absmax
            equal_scales += t_absmax == u_absmax
            for i in range(t_block.shape[0]):
                t_block_codes[i] = np.uint8(_nearest(_scaled(t_block[i], t_inverse, t_divisor, full_block), midpoints))
                u_block_codes[i] = np.uint8(_nearest(_scaled(u_block[i], u_inverse, u_divisor, full_block), midpoints))
            for i in range(t_block.shape[0]):
                t_value = t_block[i]
                width = _table_gap(_scaled(t_value, t_inverse, t_divisor, full_block), values, gaps) * t_absmax
                block_bins[i] = _distance_bin(t_value, u_block[i], width, half_bins, bins)
        equal, changed, equal_changed = _pair_counts(target, unlearned, t_codes[base:sub_end], u_codes[base:sub_end])
        equal_codes, moved, equal_moved = equal_codes + equal, moved + changed, equal_moved + equal_changed
        _histogram(bin_of, histogram)
    counts[0], counts[1], counts[2], counts[3] = equal_codes, moved, equal_moved, equal_scales


@njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def four_bit_encode(flat, block_size, midpoints, codes, scales):
    """4-bit codes and absmax per block of a flattened chunk (whole blocks, but for the matrix's last one)."""
    n_blocks = scales.shape[0]
    per_stripe = -(-n_blocks // STRIPES)
    for s in prange(STRIPES):
        first, last = min(s * per_stripe, n_blocks), min(s * per_stripe + per_stripe, n_blocks)
        _four_bit_stripe_codes(flat, first, last, block_size, midpoints, codes, scales)


@njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def four_bit_scan(target, unlearned, block_size, midpoints, values, gaps, bins, codes, scales, counts, histogram):
    """rtn_scan's outputs for 4-bit blocks over flattened chunks, per stripe of blocks (counts[s], histogram[s]);
    the bucket width of a target weight is the gap between the table values around it times its block's absmax."""
    n_blocks, stripes = scales.shape[1], counts.shape[0]
    per_stripe = -(-n_blocks // stripes)
    for s in prange(stripes):
        first, last = min(s * per_stripe, n_blocks), min(s * per_stripe + per_stripe, n_blocks)
        _four_bit_stripe_pair(target, unlearned, first, last, block_size, (midpoints, values, gaps), bins,
                              codes[0], codes[1], scales[0], scales[1], counts[s], histogram[s])  # fmt: skip


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
        with LAUNCH:
            rtn_scan(target, unlearned, size, low, high, self.symmetric, bins, codes, scales, zero_points,
                     counts, histogram)  # fmt: skip
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
    gaps: np.ndarray  # float32, TABLE_SLOTS + 1: [c] the bucket width for c values at or below a weight (c >= 1:
    # values[c] - values[c - 1]; all of them: the gap between the two largest; none: cannot happen, the largest float)
    codes: np.ndarray  # uint8: bitsandbytes' code of each distinct value (FP4's zero: its +0 code)

    @classmethod
    def of(cls, table: np.ndarray) -> "FourBitTable":
        distinct = np.unique(table.astype(np.float32))  # FP4's -0 and +0 are one value
        values: np.ndarray = np.full(TABLE_SLOTS, BIG, np.float32)
        values[: distinct.size] = distinct
        midpoints: np.ndarray = np.full(TABLE_SLOTS - 1, BIG, np.float32)
        midpoints[: distinct.size - 1] = (distinct[:-1] + distinct[1:]) / np.float32(2)
        gaps: np.ndarray = np.full(TABLE_SLOTS + 1, distinct[-1] - distinct[-2], np.float32)
        gaps[0] = BIG
        gaps[1 : distinct.size] = distinct[1:] - distinct[:-1]
        codes = np.array([np.flatnonzero(table == value)[0] for value in distinct], np.uint8)
        return cls(values, midpoints, gaps, codes)


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
        table = self.table
        with LAUNCH:
            four_bit_scan(flat_target, flat_unlearned, self.block_size, table.midpoints, table.values, table.gaps,
                          bins, codes, scales, counts, histogram)  # fmt: skip
        encoded = [EncodedChunk(codes[i].reshape(target.shape), scales[i], None) for i in (0, 1)]
        return encoded[0], encoded[1], pair_counts(counts, histogram, n_blocks)
