"""Bucket collision (DESIGN 8.6): how many unlearned weights fall in the same quantization bucket as the
target's, read from both checkpoints tensor by tensor (never a whole model in memory), with no data.

Each model is quantized with the precision's own quantizer, so each with its own scales; whether the
group scales are equal too is reported. The distance of a weight is |w_unlearned - w_target| divided by
the width of the target weight's bucket (the gap between the values of the neighbouring codes around it).
The histogram has `bins` equal bins over [0, 2) and one overflow bin for distances of 2 buckets and more:
`edges` has bins + 1 values (0 ... 2), `counts` has bins + 1 values, the last one the overflow, and the
counts sum to `n_weights`. A weight whose bucket has width 0 (a group of zeros) is at distance 0 when it
did not move, else in the overflow bin.
"""

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from service.specs.precision import PrecisionConfig
from service.specs.report import CollisionResult
from worker.engine.quantizers import Quantizer, get_quantizer, is_quantized_weight

SINGLE_FILE = "model.safetensors"
SHARD_INDEX = "model.safetensors.index.json"
HISTOGRAM_RANGE = 2.0  # bucket widths covered by the regular bins


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be compared; the message names the folder and the reason."""


class CheckpointTensors:
    """The tensors of one safetensors checkpoint (single file or sharded), read one at a time."""

    def __init__(self, folder: Path, files: ExitStack) -> None:
        self.folder = folder
        self.file_of = tensor_files(folder)
        self._handles = {
            name: files.enter_context(safe_open(folder / name, framework="pt", device="cpu"))
            for name in sorted(set(self.file_of.values()))
        }

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            name: tuple(self._handles[file].get_slice(name).get_shape()) for name, file in self.file_of.items()
        }

    def tensor(self, name: str) -> torch.Tensor:
        return self._handles[self.file_of[name]].get_tensor(name)


def tensor_files(folder: Path) -> dict[str, str]:
    """{tensor name: file name} from the shard index, or from the single file."""
    index = folder / SHARD_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise CheckpointError(f"{index}: not a valid safetensors shard index ({error})") from None
        missing = sorted({file for file in weight_map.values() if not (folder / file).is_file()})
        if missing:
            raise CheckpointError(f"{folder}: shard(s) {', '.join(missing)} named in {SHARD_INDEX} are absent")
        return dict(weight_map)
    single = folder / SINGLE_FILE
    if not single.is_file():
        raise CheckpointError(f"{folder}: no {SINGLE_FILE} or {SHARD_INDEX} (a safetensors checkpoint is needed)")
    with safe_open(single, framework="pt", device="cpu") as handle:
        return dict.fromkeys(handle.keys(), SINGLE_FILE)


@contextmanager
def open_checkpoint(folder: Path) -> Iterator[CheckpointTensors]:
    with ExitStack() as files:
        yield CheckpointTensors(Path(folder), files)


def matching_quantized_weights(target: CheckpointTensors, unlearned: CheckpointTensors) -> list[str]:
    """The quantized weight names, after checking that both checkpoints have the same tensors and shapes."""
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
    names = [name for name, shape in target_shapes.items() if is_quantized_weight(name, shape)]
    if not names:
        raise CheckpointError(f"{target.folder}: no quantizable weight matrix found")
    return sorted(names)


@dataclass
class CollisionTally:
    """Running totals over the weight matrices."""

    edges: torch.Tensor
    counts: torch.Tensor
    per_layer: dict[str, float] = field(default_factory=dict)
    equal_codes: int = 0
    n_weights: int = 0
    equal_scales: int = 0
    n_scales: int = 0

    def add(self, name: str, quantizer: Quantizer, target: torch.Tensor, unlearned: torch.Tensor) -> None:
        target_codes, unlearned_codes = quantizer.weight_codes(target), quantizer.weight_codes(unlearned)
        equal = int((target_codes.codes == unlearned_codes.codes).sum())
        self.per_layer[name] = equal / target.numel()
        self.equal_codes += equal
        self.n_weights += target.numel()
        self.equal_scales += int((target_codes.scales == unlearned_codes.scales).sum())
        self.n_scales += target_codes.scales.numel()
        moved = (unlearned.float() - target.float()).abs()
        self.counts += histogram(bucket_distance(moved, target_codes.bucket_width), self.edges)


def bucket_distance(moved: torch.Tensor, bucket_width: torch.Tensor) -> torch.Tensor:
    """|dw| / bucket width; for a zero-width bucket 0 when the weight did not move, else infinity."""
    width = bucket_width.float()
    safe_width = torch.where(width > 0, width, torch.ones_like(width))
    moved_out = torch.where(moved > 0, torch.inf, 0.0)
    return torch.where(width > 0, moved / safe_width, moved_out)


def histogram(distances: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Counts per regular bin [edges[i], edges[i+1]) plus a last overflow bin (>= edges[-1])."""
    bin_index = torch.bucketize(distances.reshape(-1), edges, right=True) - 1
    return torch.bincount(bin_index.clamp(max=len(edges) - 1), minlength=len(edges))


def bucket_collision(
    target_dir: Path, unlearned_dir: Path, precision: PrecisionConfig, bins: int = 20
) -> CollisionResult:
    """Share of weights of `unlearned_dir` that keep the target's quantized code under `precision`."""
    if precision.method == "full":
        raise ValueError("precision: bucket collision needs a quantizer; it is not defined for 'full'")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    quantizer = get_quantizer(precision)
    quantizer.check_environment()
    tally = CollisionTally(
        edges=torch.linspace(0.0, HISTOGRAM_RANGE, bins + 1), counts=torch.zeros(bins + 1, dtype=torch.int64)
    )
    with open_checkpoint(target_dir) as target, open_checkpoint(unlearned_dir) as unlearned:
        for name in matching_quantized_weights(target, unlearned):
            tally.add(name, quantizer, target.tensor(name), unlearned.tensor(name))
    return CollisionResult(
        overall=tally.equal_codes / tally.n_weights,
        per_layer=tally.per_layer,
        scales_equal=tally.equal_scales / tally.n_scales,
        distance_histogram={"edges": tally.edges.tolist(), "counts": [float(c) for c in tally.counts.tolist()]},
        n_weights=tally.n_weights,
        approximate=quantizer.approximate_codes,
        quantizer=precision.label,
    )
