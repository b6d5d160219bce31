"""Bucket collision (DESIGN 8.6): how many unlearned weights fall in the same quantization bucket as the
target's, read from both checkpoints tensor by tensor (never a whole model in memory), with no data.

`overall` is the share over all quantized weights (close to 1 when most weights were never touched); `moved`
is the share among the `n_moved` weights that unlearning changed (they differ at full precision): the part of
the unlearning update that quantization erases. It is null when no quantized weight moved.

Each model is quantized with the precision's own quantizer, so each with its own scales; whether the
group scales are equal too is reported. The distance of a weight is |w_unlearned - w_target| divided by
the width of the target weight's bucket (the gap between the values of the neighbouring codes around it).
The histogram has `bins` equal bins over [0, 2) and one overflow bin for distances of 2 buckets and more:
`edges` has bins + 1 values (0 ... 2), `counts` has bins + 1 values, the last one the overflow, and the
counts sum to `n_weights`. A weight whose bucket has width 0 (a group of zeros) is at distance 0 when it
did not move, else in the overflow bin.

The compared weights are those the quantizers quantize (quantizers.linear_layers), found on the model that
the checkpoint's config.json describes, built on the meta device (no memory): so a Conv1D layer (GPT-2),
whose weight is stored [in, out], is compared as the [out, in] matrix its quantizer sees, and an output
head tied to the embedding is never counted. Each tensor is mapped from its file on its own and let go after
use (CheckpointTensors.read), so that only the pair being compared (and the next pair, asked for on a thread
meanwhile) is resident, and the kernels read the page cache's pages in place (no copy). Codes are computed on
chunks of rows (whole quantization groups): by the quantizer's fused kernel when it has one
(quantizers.scan_kernels; large chunks, worked a row or a few blocks at a time), else by tensor operations on
chunks that stay in the CPU's cache; the identity digests are fed on threads of their own
(identity.StateHasher) while the scan goes on.
"""

import json
import math
import mmap
import os
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from io import FileIO
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from service.specs.precision import PrecisionConfig
from service.specs.report import CollisionResult
from worker.engine.identity import StateHasher, has_exact_codes
from worker.engine.quantizers import Quantizer, get_quantizer, is_transposed, linear_layers
from worker.engine.quantizers.scan_kernels import EncodedChunk, PairCounts, ScanKernel, kernel_input, use_threads

SINGLE_FILE = "model.safetensors"
SHARD_INDEX = "model.safetensors.index.json"
HISTOGRAM_RANGE = 2.0  # bucket widths covered by the regular bins
MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit
CHUNK_WEIGHTS = 1 << 17  # weights per chunk of rows whose codes are computed at once (fits a CPU's cache)
READ_SLOTS = 2  # mappings per checkpoint: the tensor being compared and the next one, read meanwhile
KERNEL_CHUNK_WEIGHTS = 1 << 22  # the same for a fused kernel, which works a row or a few blocks at a time
SAFETENSORS_DTYPES = {
    "BF16": torch.bfloat16,
    "F16": torch.float16,
    "F32": torch.float32,
    "F64": torch.float64,
    "I8": torch.int8,
    "U8": torch.uint8,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "BOOL": torch.bool,
}


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be compared; the message names the folder and the reason."""


@dataclass(frozen=True)
class StoredTensor:
    file: str
    dtype: str
    shape: tuple[int, ...]
    start: int  # byte offset in the file
    end: int


class CheckpointTensors:
    """The tensors of one safetensors checkpoint (single file or sharded), mapped from their files one at a time."""

    def __init__(self, folder: Path, files: ExitStack) -> None:
        self.folder = folder
        self._handles: dict[str, FileIO] = {}
        self._file_bytes: dict[str, int] = {}
        self.stored: dict[str, StoredTensor] = {}
        self._mapped: list[np.ndarray | None] = [None] * READ_SLOTS
        for file in weight_files(folder):
            self._handles[file] = files.enter_context(open(folder / file, "rb", buffering=0))  # noqa: SIM115
            self._file_bytes[file] = os.fstat(self._handles[file].fileno()).st_size
            self.stored.update(read_header(folder / file, file, self._handles[file]))

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: stored.shape for name, stored in self.stored.items()}

    def read(self, name: str, slot: int = 0) -> torch.Tensor:
        """The tensor, mapped from its file (map_bytes), in mapping `slot`: the slot's previous tensor is let go
        (unmapped once nothing else holds it), so few tensors of a model are resident at a time."""
        stored = self.stored[name]
        if stored.dtype not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{self.folder}: tensor '{name}' has dtype {stored.dtype}, which is not compared")
        dtype, size = SAFETENSORS_DTYPES[stored.dtype], stored.end - stored.start
        if size != math.prod(stored.shape) * dtype.itemsize:
            raise CheckpointError(f"{self.folder / stored.file}: tensor '{name}' has {size} bytes for its shape")
        if stored.end > self._file_bytes[stored.file]:
            raise CheckpointError(f"{self.folder / stored.file}: tensor '{name}' is cut short (truncated file)")
        self._mapped[slot] = None
        if not size:
            return torch.empty(stored.shape, dtype=dtype)
        self._mapped[slot] = mapped = map_bytes(self._handles[stored.file], stored.start, stored.end)
        return torch.from_numpy(mapped).view(dtype).reshape(stored.shape)


def map_bytes(handle: FileIO, start: int, end: int) -> np.ndarray:
    """Bytes start..end of the file, mapped: read in place from the page cache (copying them into buffers was a
    fifth of a 1B scan's CPU time, measured) and asked for at once (MADV_WILLNEED), so that a tensor
    mapped ahead is read from disk while the one before it is compared. The mapping is private: nothing writes
    to it, and a write would never reach the file. The caller checks that the file holds `end` bytes (the
    header's length): mmap refuses to map past a file's end. A file cut short while it is mapped would end the
    process (a bus error), as it would under transformers' loading of the model, which maps the same files."""
    first = start - start % mmap.ALLOCATIONGRANULARITY
    mapping = mmap.mmap(handle.fileno(), end - first, access=mmap.ACCESS_COPY, offset=first)
    mapping.madvise(mmap.MADV_WILLNEED)
    return np.frombuffer(mapping, np.uint8, count=end - start, offset=start - first)


def read_bytes(handle: FileIO, offset: int, count: int) -> bytes:
    """Up to `count` bytes of the file at `offset` (fewer at its end)."""
    parts: list[bytes] = []
    while count > 0 and (part := os.pread(handle.fileno(), count, offset)):
        parts.append(part)
        offset, count = offset + len(part), count - len(part)
    return b"".join(parts)


def read_header(path: Path, file: str, handle: FileIO) -> dict[str, StoredTensor]:
    """The safetensors header: 8 bytes of little-endian length, then JSON {name: {dtype, shape, data_offsets}}."""
    try:
        (length,) = struct.unpack("<Q", read_bytes(handle, 0, 8))
        if length > min(MAX_HEADER_BYTES, path.stat().st_size):
            raise ValueError(f"a header of {length} bytes")
        header = json.loads(read_bytes(handle, 8, length))
        data_start = 8 + length
        return {
            name: StoredTensor(
                file, entry["dtype"], tuple(entry["shape"]), data_start + entry["data_offsets"][0],
                data_start + entry["data_offsets"][1],
            )
            for name, entry in header.items()
            if name != "__metadata__"
        }  # fmt: skip
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as error:  # JSON and decoding errors too
        raise CheckpointError(f"{path}: not a valid safetensors file ({type(error).__name__}: {error})") from None


def weight_files(folder: Path) -> list[str]:
    """The shards named by the shard index, or the single file."""
    index = folder / SHARD_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise CheckpointError(f"{index}: not a valid safetensors shard index ({error})") from None
        missing = sorted({file for file in weight_map.values() if not (folder / file).is_file()})
        if missing:
            raise CheckpointError(f"{folder}: shard(s) {', '.join(missing)} named in {SHARD_INDEX} are absent")
        return sorted(set(weight_map.values()))
    if not (folder / SINGLE_FILE).is_file():
        raise CheckpointError(f"{folder}: no {SINGLE_FILE} or {SHARD_INDEX} (a safetensors checkpoint is needed)")
    return [SINGLE_FILE]


@contextmanager
def open_checkpoint(folder: Path) -> Iterator[CheckpointTensors]:
    with ExitStack() as files:
        yield CheckpointTensors(Path(folder), files)


@dataclass(frozen=True)
class QuantizedTensor:
    name: str  # the tensor's name in the checkpoint
    transposed: bool  # stored [in_features, out_features] (Conv1D)


def meta_model(folder: Path) -> PreTrainedModel:
    """The model that the checkpoint's config.json describes, on the meta device (no memory, no weights)."""
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{folder}: cannot build the model of its config.json ({error})") from None


def quantized_tensors(model: PreTrainedModel, folder: Path, stored: set[str]) -> list[QuantizedTensor]:
    """The checkpoint tensors of the layers the quantizers quantize, found on the checkpoint's meta model."""
    prefix = f"{model.base_model_prefix}."
    tensors = []
    for module_name, module in linear_layers(model).items():
        name = f"{module_name}.weight"
        if name not in stored and name.removeprefix(prefix) in stored:  # checkpoints saved from the base model
            name = name.removeprefix(prefix)
        if name not in stored:
            raise CheckpointError(f"{folder}: no tensor '{name}' for the linear layer '{module_name}' of the model")
        tensors.append(QuantizedTensor(name, transposed=is_transposed(module)))
    return tensors


def matching_quantized_weights(
    model: PreTrainedModel, target: CheckpointTensors, unlearned: CheckpointTensors
) -> list[QuantizedTensor]:
    """The quantized weights, after checking that both checkpoints have the same tensors and shapes."""
    target_shapes, unlearned_shapes = target.shapes(), unlearned.shapes()
    only_one = sorted(set(target_shapes) ^ set(unlearned_shapes))
    if only_one:
        raise CheckpointError(
            f"{unlearned.folder} and {target.folder} hold different tensors (e.g. {', '.join(only_one[:5])})"
        )
    for name, shape in target_shapes.items():
        if unlearned_shapes[name] != shape:
            raise CheckpointError(
                f"{unlearned.folder}: tensor '{name}' has shape {unlearned_shapes[name]}, "
                f"the target's ({target.folder}) has {shape}"
            )
    tensors = quantized_tensors(model, target.folder, set(target_shapes))
    if not tensors:
        raise CheckpointError(f"{target.folder}: no quantizable weight matrix found")
    return tensors


@dataclass
class CollisionTally:
    """Running totals over the weight matrices."""

    bins: int
    counts: torch.Tensor
    per_layer: dict[str, float] = field(default_factory=dict)
    equal_codes: int = 0
    n_weights: int = 0
    equal_scales: int = 0
    n_scales: int = 0
    n_moved: int = 0  # weights that differ between the two checkpoints (at full precision)
    equal_moved: int = 0  # of those, the ones whose quantized code is the same
    hashers: tuple[StateHasher | None, StateHasher | None] = (None, None)  # (target, unlearned) digests
    kernel: ScanKernel | None = None  # the quantizer's fused form, when it has one

    def add(self, name: str, quantizer: Quantizer, target: torch.Tensor, unlearned: torch.Tensor) -> None:
        """One weight matrix [out, in], chunk by chunk of whole quantization groups."""
        equal_before = self.equal_codes
        for hasher in self.hashers:
            if hasher:
                hasher.matrix(name)
        for rows in row_chunks(target.shape, quantizer, chunk_weights(self.kernel)):
            if self.kernel is None:
                self.add_chunk(quantizer, target[rows].contiguous(), unlearned[rows].contiguous())
            else:
                self.add_scanned(
                    *self.kernel.scan(kernel_input(target[rows]), kernel_input(unlearned[rows]), self.bins)
                )
        self.per_layer[name] = (self.equal_codes - equal_before) / target.numel()

    def add_scanned(self, target: EncodedChunk, unlearned: EncodedChunk, counts: PairCounts) -> None:
        """A chunk's codes and counts from the quantizer's fused kernel (quantizers.scan_kernels)."""
        for hasher, encoded in zip(self.hashers, (target, unlearned), strict=True):
            if hasher:
                hasher.codes(encoded.codes, encoded.scales, encoded.zero_points)
        self.equal_codes += counts.equal_codes
        self.n_weights += target.codes.size
        self.n_moved += counts.moved
        self.equal_moved += counts.equal_moved
        self.equal_scales += counts.equal_scales
        self.n_scales += counts.n_scales
        self.counts += torch.from_numpy(counts.histogram)

    def add_chunk(self, quantizer: Quantizer, target: torch.Tensor, unlearned: torch.Tensor) -> None:
        """A chunk through the quantizer's `weight_codes` (methods without a kernel)."""
        target_codes, unlearned_codes = quantizer.weight_codes(target), quantizer.weight_codes(unlearned)
        for hasher, codes in zip(self.hashers, (target_codes, unlearned_codes), strict=True):
            if hasher:
                hasher.codes(codes.codes, codes.scales)
        equal = target_codes.codes == unlearned_codes.codes
        moved_mask = unlearned != target
        self.equal_codes += int(torch.count_nonzero(equal))
        self.n_weights += target.numel()
        self.n_moved += int(torch.count_nonzero(moved_mask))
        self.equal_moved += int(torch.count_nonzero(equal.logical_and_(moved_mask)))
        self.equal_scales += int(torch.count_nonzero(target_codes.scales == unlearned_codes.scales))
        self.n_scales += target_codes.scales.numel()
        moved = (unlearned.float() - target.float()).abs_()  # a new tensor: .float() of float32 is the chunk itself
        self.counts += distance_histogram(moved, target_codes.bucket_width, self.bins)


def chunk_weights(kernel: ScanKernel | None) -> int:
    """Weights per chunk: the generic path's tensor operations want chunks that fit a CPU's cache; a kernel
    wants few launches (each wakes its threads)."""
    return CHUNK_WEIGHTS if kernel is None else KERNEL_CHUNK_WEIGHTS


def row_chunks(shape: tuple[int, ...], quantizer: Quantizer, weights: int = CHUNK_WEIGHTS) -> Iterator[slice]:
    """Slices of about `weights` weights, each a whole number of the quantizer's groups of rows."""
    out_features, in_features = shape
    multiple = quantizer.rows_per_group(in_features)
    rows = max(multiple, weights // in_features // multiple * multiple)
    for start in range(0, out_features, rows):
        yield slice(start, min(start + rows, out_features))


def distance_histogram(moved: torch.Tensor, bucket_width: torch.Tensor, bins: int) -> torch.Tensor:
    """Counts of |dw| / bucket width per bin of [0, 2) (bin i: [i, i+1) * 2 / bins) and a last overflow bin.

    A zero-width bucket puts a weight at distance 0 when it did not move (0 / 0), else in the overflow bin.
    """
    scaled = moved.mul_(bins / HISTOGRAM_RANGE).div_(bucket_width.float())
    bin_index = scaled.nan_to_num_(0.0, posinf=bins).clamp_(max=bins).to(torch.uint8)
    return torch.bincount(bin_index.reshape(-1), minlength=bins + 1)


def bucket_collision(
    target_dir: Path, unlearned_dir: Path, precision: PrecisionConfig, bins: int = 20, target_digest: str | None = None
) -> CollisionResult:
    """Share of weights of `unlearned_dir` that keep the target's quantized code under `precision`.

    `target_digest`: the target's state digest at this precision when an earlier scan gave it (an audit scans
    the target once per unlearned model): it is then reported as given, not hashed again.
    """
    if precision.method == "full":
        raise ValueError("precision: bucket collision needs a quantizer; it is not defined for 'full'")
    if not 1 <= bins <= 200:
        raise ValueError(f"bins must be between 1 and 200, got {bins}")
    quantizer = get_quantizer(precision)
    quantizer.check_environment()
    model = meta_model(target_dir)
    quantizer.check_architecture(model.config.model_type)
    tally = CollisionTally(bins=bins, counts=torch.zeros(bins + 1, dtype=torch.int64), kernel=scan_kernel(quantizer))
    with ExitStack() as stack:
        exact = has_exact_codes(precision, quantizer)
        if exact:
            hasher = stack.enter_context(StateHasher(precision.label, background=True))
            target_hasher = (
                None if target_digest else stack.enter_context(StateHasher(precision.label, background=True))
            )
            tally.hashers = (target_hasher, hasher)
        target, unlearned = (stack.enter_context(open_checkpoint(folder)) for folder in (target_dir, unlearned_dir))
        tensors = matching_quantized_weights(model, target, unlearned)
        for tensor, (target_weight, unlearned_weight) in read_ahead(tensors, (target, unlearned)):
            tally.add(tensor.name, quantizer, target_weight, unlearned_weight)
        hash_unquantized_sides(tally.hashers, (target, unlearned), tensors)
        computed_target, digest = (side.hexdigest() if side else None for side in tally.hashers)
    target_digest = (computed_target or target_digest) if exact else None
    return CollisionResult(
        overall=tally.equal_codes / tally.n_weights,
        moved=tally.equal_moved / tally.n_moved if tally.n_moved else None,
        n_moved=tally.n_moved,
        per_layer=tally.per_layer,
        scales_equal=tally.equal_scales / tally.n_scales,
        distance_histogram={
            "edges": torch.linspace(0.0, HISTOGRAM_RANGE, bins + 1).tolist(),
            "counts": [float(c) for c in tally.counts.tolist()],
        },
        n_weights=tally.n_weights,
        approximate=quantizer.approximate_codes,
        quantizer=precision.label,
        target_digest=target_digest,
        digest=digest,
    )


def scan_kernel(quantizer: Quantizer) -> ScanKernel | None:
    """The quantizer's kernel, run on as many threads as torch (worker.engine.threads sets them)."""
    kernel = quantizer.scan_kernel()
    if kernel is not None:
        use_threads(torch.get_num_threads())
    return kernel


def oriented(checkpoint: CheckpointTensors, tensor: QuantizedTensor, slot: int = 0) -> torch.Tensor:
    """A quantized weight as the [out, in] matrix its quantizer sees."""
    weight = checkpoint.read(tensor.name, slot)
    return weight.T if tensor.transposed else weight


def read_ahead(
    tensors: list[QuantizedTensor], checkpoints: tuple[CheckpointTensors, ...]
) -> Iterator[tuple[QuantizedTensor, list[torch.Tensor]]]:
    """Each quantized weight of the checkpoints, oriented; the next one is mapped and asked for on a thread while
    the caller works on this one, which the caller lets go of when it asks for the next."""

    def read(index: int) -> list[torch.Tensor]:
        return [oriented(checkpoint, tensors[index], slot=index % READ_SLOTS) for checkpoint in checkpoints]

    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reader:
        pending = [reader.submit(read, 0)] if tensors else []
        for index, tensor in enumerate(tensors):
            weights = pending.pop().result()
            if index + 1 < len(tensors):
                pending.append(reader.submit(read, index + 1))
            yield tensor, weights


def hash_unquantized(hasher: StateHasher, checkpoint: CheckpointTensors, quantized: list[QuantizedTensor]) -> None:
    """The rest of a digest (worker.engine.identity): every tensor left in full precision, then the folder's files."""
    skipped = {tensor.name for tensor in quantized}
    for name in sorted(set(checkpoint.stored) - skipped):
        hasher.tensor(name, checkpoint.read(name))
    hasher.files(checkpoint.folder)


def hash_unquantized_sides(
    hashers: tuple[StateHasher | None, ...],
    checkpoints: tuple[CheckpointTensors, ...],
    quantized: list[QuantizedTensor],
) -> None:
    """hash_unquantized for each checkpoint that has a hasher, each on a thread of its own (file reads and BLAKE3
    let go of the GIL): the embeddings and output heads of both models are read and hashed side by side."""
    sides = [(hasher, checkpoint) for hasher, checkpoint in zip(hashers, checkpoints, strict=True) if hasher]
    with ThreadPoolExecutor(len(checkpoints), thread_name_prefix="digest-rest") as pool:
        for future in [pool.submit(hash_unquantized, hasher, checkpoint, quantized) for hasher, checkpoint in sides]:
            future.result()


def state_digest(folder: Path, precision: PrecisionConfig) -> str | None:
    """The digest of one model at one precision (worker.engine.identity), None when its codes are not exact.

    The same streaming pass as bucket_collision's, for one model: equal to the digest a collision reports.
    """
    quantizer = get_quantizer(precision)
    if not has_exact_codes(precision, quantizer):
        return None
    quantizer.check_environment()
    model = meta_model(folder)
    quantizer.check_architecture(model.config.model_type)
    kernel = scan_kernel(quantizer)
    with StateHasher(precision.label, background=True) as hasher, open_checkpoint(folder) as checkpoint:
        tensors = quantized_tensors(model, folder, set(checkpoint.stored))
        for tensor, (weight,) in read_ahead(tensors, (checkpoint,)):
            hasher.matrix(tensor.name)
            for rows in row_chunks(tuple(weight.shape), quantizer, chunk_weights(kernel)):
                if kernel is None:
                    codes = quantizer.weight_codes(weight[rows].contiguous())
                    hasher.codes(codes.codes, codes.scales)
                else:
                    encoded = kernel.encode(kernel_input(weight[rows]))
                    hasher.codes(encoded.codes, encoded.scales, encoded.zero_points)
        hash_unquantized(hasher, checkpoint, tensors)
        return hasher.hexdigest()
