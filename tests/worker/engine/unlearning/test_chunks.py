"""Token chunks (BOS per document or per chunk) and gradient accumulation in the loop."""

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.unlearning import GradientMethodConfig
from worker.engine.unlearning import run_unlearning
from worker.engine.unlearning.base import LoopSettings, chunk_corpus

DOCUMENTS = ["the river runs past the mill and the old bridge", "a second text about the mill"]


@pytest.fixture
def tokenizer(tiny_target_dir):
    return AutoTokenizer.from_pretrained(tiny_target_dir)


def test_bos_per_chunk_starts_every_chunk_with_bos_and_keeps_the_stream(tokenizer):
    chunks = chunk_corpus(tokenizer, DOCUMENTS, 8, "raw/forget", bos_per_chunk=True)
    stream = [t for d in DOCUMENTS for t in tokenizer(d, add_special_tokens=False)["input_ids"]]
    rows = [ids[mask.bool()].tolist() for ids, mask in zip(chunks.input_ids, chunks.mask, strict=True)]
    assert all(row[0] == tokenizer.bos_token_id for row in rows)
    assert all(len(row) == 8 for row in rows[:-1])
    assert [t for row in rows for t in row[1:]] == stream
    assert tokenizer.bos_token_id not in stream


def test_by_default_only_each_document_starts_with_bos(tokenizer):
    chunks = chunk_corpus(tokenizer, DOCUMENTS, 8, "raw/forget")
    tokens = chunks.input_ids[chunks.mask.bool()].tolist()
    assert tokens.count(tokenizer.bos_token_id) == len(DOCUMENTS)


def test_bos_per_chunk_needs_a_bos_token(tokenizer):
    tokenizer.bos_token = None
    with pytest.raises(ValueError, match="raw/retain: bos_per_chunk needs a tokenizer with a BOS token"):
        chunk_corpus(tokenizer, DOCUMENTS, 8, "raw/retain", bos_per_chunk=True)


def test_steps_count_accumulated_batches():
    settings = LoopSettings(1e-5, batch_size=2, max_grad_norm=1.0, weight_decay=0.0, epochs=2, max_steps=None,
                            seed=0, gradient_accumulation=2)  # fmt: skip
    assert settings.total_steps(10) == 2 * 3  # 5 batches per pass, 2 per step


def test_two_accumulated_half_batches_make_the_step_of_one_full_batch(tiny_target_dir, tiny_bundle, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_target_dir)

    def first_step(batch_size: int, accumulation: int) -> dict[str, float]:
        config = GradientMethodConfig(name="u", method="npo", chunk_length=32, lr=1e-3, max_steps=1,
                                      batch_size=batch_size, gradient_accumulation=accumulation)  # fmt: skip
        return run_unlearning(config, model, tokenizer, tiny_bundle, seed=0).record.curve[0]

    full, accumulated = first_step(4, 1), first_step(2, 2)
    assert accumulated["loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert accumulated["grad_norm"] == pytest.approx(full["grad_norm"], rel=1e-4)
