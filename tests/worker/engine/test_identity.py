"""The state digest's hasher: hashing on a background thread changes nothing but where the work runs."""

import blake3
import numpy as np
import pytest
import torch

from worker.engine.identity import DIGEST_FORMAT, MAX_PENDING, StateHasher


def digest(background: bool, chunks: list[np.ndarray]) -> str:
    with StateHasher("rtn-w4-g64-asym", background=background) as hasher:
        hasher.matrix("layer.weight")
        for chunk in chunks:
            hasher.codes(chunk, np.ones(2, np.float32), np.zeros(2, np.int32))
        hasher.tensor("embed.weight", torch.ones(3, 2, dtype=torch.bfloat16))
        return hasher.hexdigest()


def test_a_background_thread_gives_the_digest_of_hashing_in_place():
    chunks: list[np.ndarray] = [np.arange(size, dtype=np.uint8) for size in (10, 0, 300, *([7] * (2 * MAX_PENDING)))]
    in_place = digest(False, chunks)
    assert digest(True, chunks) == in_place
    assert digest(True, chunks[::-1]) != in_place  # the order of the chunks is part of it


def test_an_error_on_the_hashing_thread_reaches_the_caller():
    with StateHasher("rtn", background=True) as hasher:
        hasher.codes(object(), np.zeros(1))
        with pytest.raises(AttributeError):
            hasher.hexdigest()


def test_the_digest_is_blake3_of_the_format_the_module_gives():
    """Length-prefixed label and name, then each part's element count and bytes (identity's docstring)."""

    def text(value: str) -> bytes:
        return len(value.encode()).to_bytes(8, "little") + value.encode()

    codes, scales = np.array([3, 0, 15], np.uint8), np.array([0.5], np.float32)
    expected = blake3.blake3(
        DIGEST_FORMAT + text("bnb-nf4-b64") + text("layer.weight")
        + (3).to_bytes(8, "little") + codes.tobytes() + (1).to_bytes(8, "little") + scales.tobytes()
    ).hexdigest()  # fmt: skip
    with StateHasher("bnb-nf4-b64") as hasher:
        hasher.matrix("layer.weight")
        hasher.codes(codes, scales)
        assert hasher.hexdigest() == expected
