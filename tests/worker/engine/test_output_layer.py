"""Chunked output layer: the same log-probs as the model's full logits, only where the logits are head(hidden)."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.architectures import ARCHITECTURES, TRANSFORMED_LOGITS, Dimensions, architecture_config
from worker.engine.generation import _full_logprobs, _pad, token_logprobs
from worker.engine.models import load_model
from worker.engine.output_layer import chunk_positions, chunked_logprobs, logits_are_head_of_hidden

TOLERANCE = 1e-6
SEQUENCES = [[1, 5, 9, 200, 17, 3, 44, 81, 8], [1, 300, 4], [1, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]


def random_model(architecture: str, head_scale: float = 1.0):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(architecture_config(architecture, Dimensions()))
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(head_scale)
    return model.eval()


def full_and_chunked(model, chunk_bytes: int) -> tuple[list[list[float]], list[list[float]]]:
    input_ids, _ = _pad(SEQUENCES, pad_token_id=0, left=False)
    lengths = [len(ids) for ids in SEQUENCES]
    with torch.inference_mode():
        full = _full_logprobs(model, input_ids, lengths)
    return full, chunked_logprobs(model, input_ids, lengths, chunk_bytes)


def full_one_at_a_time(model) -> list[list[float]]:
    """The full-logits log-probs of each sequence alone (no padding), as MUSE's reference evaluation runs."""
    with torch.inference_mode():
        return [_full_logprobs(model, torch.tensor([ids]), [len(ids)])[0] for ids in SEQUENCES]


def max_difference(left: list[list[float]], right: list[list[float]]) -> float:
    assert [len(row) for row in left] == [len(row) for row in right]
    return max(abs(a - b) for row_l, row_r in zip(left, right, strict=True) for a, b in zip(row_l, row_r, strict=True))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_chunked_logprobs_equal_the_full_ones_on_every_architecture(architecture):
    model = random_model(architecture)
    assert logits_are_head_of_hidden(model)
    chunk_bytes = 3 * 4 * model.config.vocab_size  # three positions a chunk: chunks cross row boundaries
    assert chunk_positions(model.config.vocab_size, chunk_bytes) == 3
    full, chunked = full_and_chunked(model, chunk_bytes)
    assert max_difference(full, chunked) <= TOLERANCE
    assert max_difference(token_logprobs(model, SEQUENCES, batch_size=2, pad_token_id=0), full) <= TOLERANCE


@pytest.mark.parametrize("architecture", TRANSFORMED_LOGITS)
def test_soft_capped_or_scaled_logits_take_the_full_path(architecture):
    model = random_model(architecture, head_scale=40)  # logits far from zero, where capping and scaling show
    assert not logits_are_head_of_hidden(model)
    full, chunked = full_and_chunked(model, 4 * model.config.vocab_size)
    assert max_difference(full, chunked) > 1e-3, "the chunked path would have given other numbers"
    # log-probs near -40 here: padded batches round differently (1.9e-6 on gemma2); rows alone are the reference
    alone = full_one_at_a_time(model)
    assert max_difference(token_logprobs(model, SEQUENCES, batch_size=2, pad_token_id=0), alone) <= TOLERANCE


def test_chunked_logprobs_equal_the_full_ones_on_the_trained_tiny_model(tiny_target_dir, tiny_bundle):
    loaded = load_model("target", str(tiny_target_dir))
    texts = tiny_bundle.privleak_forget + tiny_bundle.privleak_holdout
    sequences = [ids for ids in loaded.tokenizer(texts)["input_ids"] if len(ids) > 1]
    assert logits_are_head_of_hidden(loaded.model)
    input_ids, _ = _pad(sequences, loaded.tokenizer.pad_token_id, left=False)
    lengths = [len(ids) for ids in sequences]
    with torch.inference_mode():
        full = _full_logprobs(loaded.model, input_ids, lengths)
    chunked = chunked_logprobs(loaded.model, input_ids, lengths, chunk_bytes=64 * 4 * loaded.model.config.vocab_size)
    assert max_difference(full, chunked) <= TOLERANCE
