"""Identical quantized models (issue 15): a BLAKE3 hash over everything that decides a model's outputs at one
precision.

Two models with the same digest at a precision give the same outputs there, so only one of them is evaluated:
the digest covers, in a fixed order, the precision's label; for every quantized weight matrix its name and,
chunk by chunk of whole quantization groups, its codes, its group scales and (asymmetric RTN) its zero points,
which with the label fix the values the codes take (codes in one byte where the quantizer has a fused kernel,
quantizers.scan_kernels, else as its `weight_codes` gives them; one path per quantizer, so digests of one
precision are always comparable); every other stored tensor (embeddings, norms, biases,
the output head) byte for byte with its name, dtype and shape; and the files that configure the model, its
tokenizer and its generation (JSON compared as parsed, without the keys that only record where or with which
version a folder was written). It is computed streaming (worker.engine.collision reads the tensors one at a
time) and only for quantizers whose codes are exact: calibration-based methods (GPTQ, AWQ) get none, since
their codes depend on the calibration data and the order of rounding.

BLAKE3, not a fast non-cryptographic hash: a tenant must not be able to craft a model whose digest equals another
model's and so be handed that model's results. It is also about 2.3x faster than sha256 on one core here (3.9 vs
1.7 GB/s), which a collision scan of a 1B-class pair, hashing gigabytes of codes, needs.
"""

import json
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeAlias

import blake3
import numpy as np
import torch

from service.specs.precision import PrecisionConfig
from worker.engine.quantizers import Quantizer

Buffer: TypeAlias = torch.Tensor | np.ndarray

DIGEST_FORMAT = b"unlearn-audit quantized state 4\n"  # 4: BLAKE3 (3 was sha256)
BEHAVIOUR_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)
MAX_PENDING = 4  # chunks of codes waiting for a background hashing thread (their memory is held until then)
VOLATILE_KEYS = frozenset(
    {"_name_or_path", "name_or_path", "transformers_version", "_commit_hash", "is_local", "local_files_only"}
)  # where and how a folder was loaded or written, not what it computes


def has_exact_codes(precision: PrecisionConfig, quantizer: Quantizer) -> bool:
    """Whether a digest can prove two models identical at this precision (a quantized one with exact codes)."""
    return precision.method != "full" and not quantizer.approximate_codes


class StateHasher:
    """The digest of one model at one precision, fed in the order the module docstring gives.

    With `background`, chunks of codes are hashed on a thread of their own (BLAKE3 lets go of the GIL), beside
    the scan that computes the next ones; at most MAX_PENDING chunks wait. Close it (or use it in a `with`).
    """

    def __init__(self, label: str, background: bool = False) -> None:
        """`label`: the precision's (the result cache's configuration digest has its own)."""
        self._hash = blake3.blake3(DIGEST_FORMAT)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="state-digest") if background else None
        self._pending: deque[Future[None]] = deque()
        self._text(label)

    def __enter__(self) -> "StateHasher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def matrix(self, name: str) -> None:
        """A quantized weight matrix begins: its chunks' codes follow."""
        self._later(self._text, name)

    def codes(self, codes: Buffer, scales: Buffer, zero_points: Buffer | None = None) -> None:
        """One chunk of a quantized matrix: its codes, group scales and zero points (with the label, its values).
        They may be hashed later, on the background thread: the caller must not change them."""
        self._later(self._chunk, (codes, scales) if zero_points is None else (codes, scales, zero_points))

    def tensor(self, name: str, tensor: torch.Tensor) -> None:
        """A tensor left in full precision, hashed before this returns (its buffer may be reused after)."""
        self._wait()
        self._text(f"{name} {str(tensor.dtype).removeprefix('torch.')} {tuple(tensor.shape)}")
        self._bytes(tensor)

    def files(self, folder: Path) -> None:
        self._wait()
        for file in BEHAVIOUR_FILES:
            path = folder / file
            self._text(file if path.is_file() else f"{file} absent")
            if path.is_file():
                self._hash.update(_normalised(path))

    def hexdigest(self) -> str:
        self._wait()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)

    def _later(self, feed: Callable[[Any], None], data: Any) -> None:
        if self._thread is None:
            feed(data)
            return
        self._pending.append(self._thread.submit(feed, data))
        if len(self._pending) > MAX_PENDING:
            self._pending.popleft().result()

    def _wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()  # an error on the thread is raised here

    def _chunk(self, parts: tuple[Buffer, ...]) -> None:
        for part in parts:
            self._bytes(part)

    def _text(self, text: str) -> None:
        encoded = text.encode()
        self._hash.update(len(encoded).to_bytes(8, "little") + encoded)

    def _bytes(self, data: Buffer) -> None:
        """Its number of elements, then its bytes (read in place: numpy has no bfloat16, bytes have no dtype)."""
        if isinstance(data, torch.Tensor):
            flat = data.detach().contiguous().reshape(-1)
            count, raw = flat.numel(), flat.view(torch.uint8).numpy()
        else:
            count, raw = data.size, np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        self._hash.update(count.to_bytes(8, "little"))
        if count:
            self._hash.update(raw)


def _normalised(path: Path) -> bytes:
    """A JSON file as parsed, sorted, without volatile keys; any other file as it is."""
    data = path.read_bytes()
    if path.suffix != ".json":
        return data
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return data
    if isinstance(document, dict):
        document = {key: value for key, value in document.items() if key not in VOLATILE_KEYS}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
