"""Batched generation and log-probs equal one-item-at-a-time evaluation; truncation keeps the right end."""

import math

import pytest
import torch

from tests.tiny_world import make_bundle
from worker.engine.generation import (
    MIN_SHARED_PREFIX,
    _batches_by_length,
    encode_prompts,
    encode_texts,
    greedy_generate,
    prompt_room,
    shared_prefix_length,
    token_logprobs,
)
from worker.engine.models import load_model


@pytest.fixture(scope="module")
def target(tiny_target_dir):
    return load_model("target", str(tiny_target_dir))


def prompts_of(bundle) -> list[str]:
    verbmem = [pair.prompt for pair in bundle.verbmem_forget]
    questions = [f"Question: {qa.question}\nAnswer: " for qa in bundle.knowmem_forget_qa[:3]]
    return verbmem + questions


def muse_greedy(model, tokenizer, prompt: str, max_new_tokens: int) -> list[int]:
    """The reference: one prompt, no padding, model.generate as MUSE calls it."""
    input_ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=True).input_ids
    with torch.inference_mode():
        output = model.generate(
            input_ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    return output[0, input_ids.shape[1] :].tolist()


def without_padding(ids: list[int], pad_token_id: int) -> list[int]:
    return [token for token in ids if token != pad_token_id]


@pytest.mark.slow
def test_batched_greedy_equals_one_at_a_time(target):
    prompts = prompts_of(make_bundle())
    encoded = [e.ids for e in encode_prompts(target.tokenizer, prompts, 400)]
    lengths = {len(ids) for ids in encoded}
    assert len(lengths) > 1, "prompts of different lengths are needed to exercise padding"

    batched = greedy_generate(target.model, target.tokenizer, encoded, 20, batch_size=3)
    sequential = greedy_generate(target.model, target.tokenizer, encoded, 20, batch_size=1)
    reference = [muse_greedy(target.model, target.tokenizer, prompt, 20) for prompt in prompts]

    pad = target.tokenizer.pad_token_id
    assert [without_padding(ids, pad) for ids in batched] == reference
    assert sequential == reference
    assert any(len(set(ids)) > 3 for ids in reference), "the outputs are real text, not one repeated token"


@pytest.mark.slow
def test_shared_prefix_run_once_gives_the_one_at_a_time_outputs(target, tiny_bundle):
    examples = "".join(f"Question: {qa.question}\nAnswer: {qa.answer}\n\n" for qa in tiny_bundle.knowmem_retain_qa)
    prompts = [f"{examples}Question: {qa.question}\nAnswer: " for qa in tiny_bundle.knowmem_forget_qa[:4]]
    encoded = [e.ids for e in encode_prompts(target.tokenizer, prompts, 400)]
    assert shared_prefix_length(encoded) >= MIN_SHARED_PREFIX, "the cached-prefix path is exercised"

    batched = greedy_generate(target.model, target.tokenizer, encoded, 16, batch_size=3)
    reference = [muse_greedy(target.model, target.tokenizer, prompt, 16) for prompt in prompts]
    assert [without_padding(ids, target.tokenizer.pad_token_id) for ids in batched] == reference


@pytest.mark.slow
def test_a_prompt_of_only_bos_batched_with_long_ones_decodes_as_alone(target, tiny_bundle):
    prompts = ["", tiny_bundle.verbmem_forget[0].prompt, "The"]
    encoded = [e.ids for e in encode_prompts(target.tokenizer, prompts, 400)]
    assert len(encoded[0]) == 1, "the empty prompt is BOS alone: nothing of its own to prefill"

    batched = greedy_generate(target.model, target.tokenizer, encoded, 12, batch_size=3)
    reference = [muse_greedy(target.model, target.tokenizer, prompt, 12) for prompt in prompts]
    assert [without_padding(ids, target.tokenizer.pad_token_id) for ids in batched] == reference


def test_shared_prefix_leaves_every_prompt_a_token_of_its_own():
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5, 6]]) == 3
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2
    assert shared_prefix_length([[7, 2], [1, 2]]) == 0
    assert shared_prefix_length([[1, 2, 3]]) == 0


@pytest.mark.slow
def test_batched_logprobs_equal_one_at_a_time_and_a_plain_forward(target):
    bundle = make_bundle()
    texts = bundle.privleak_forget + bundle.privleak_holdout + [bundle.verbmem_forget[0].prompt]
    sequences = [e.ids for e in encode_texts(target.tokenizer, texts, 512)]
    batched = token_logprobs(target.model, sequences, batch_size=4, pad_token_id=target.tokenizer.pad_token_id)
    for ids, row in zip(sequences, batched, strict=True):
        with torch.inference_mode():
            logits = target.model(torch.tensor([ids])).logits[0]
        expected = torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
        assert len(row) == len(ids) - 1
        assert torch.allclose(torch.tensor(row), expected, atol=1e-5)


class FixedLogits(torch.nn.Module):
    """Logits that depend only on the token: row `token` of a fixed table (a bigram model)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table
        self.device = torch.device("cpu")

    def forward(self, input_ids, attention_mask):
        return type("Output", (), {"logits": self.table[input_ids]})


def test_logprobs_against_hand_computation_with_padding():
    table = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]))
    model = FixedLogits(table)
    sequences = [[0, 1, 1, 2], [2, 0]]  # the second row is padded on the right
    result = token_logprobs(model, sequences, batch_size=2, pad_token_id=0)
    hand = [[0.25, 0.6, 0.3], [0.2]]
    for row, probabilities in zip(result, hand, strict=True):
        assert row == pytest.approx([torch.log(torch.tensor(p)).item() for p in probabilities], abs=1e-6)


def test_batches_are_longest_first_and_respect_the_token_budget():
    lengths = [5, 40, 12, 40, 7, 30]
    assert _batches_by_length(lengths, batch_size=4) == [[1, 3, 5, 2], [4, 0]]
    # 80 padded tokens: two rows of 40, then 30 + 12 (2 x 30), then 7 + 5
    assert _batches_by_length(lengths, batch_size=4, max_batch_tokens=80) == [[1, 3], [5, 2], [4, 0]]
    assert _batches_by_length([100, 90], batch_size=4, max_batch_tokens=50) == [[0], [1]]


def test_a_much_shorter_item_starts_a_batch_of_its_own():
    lengths = [100, 95, 89, 90, 50]
    # 90 and 95 are >= 0.9 of 100; 89 is not, and starts a batch that 50 (< 0.9 x 89) cannot join
    assert _batches_by_length(lengths, batch_size=4, min_length_share=0.9) == [[0, 1, 3], [2], [4]]
    assert _batches_by_length(lengths, batch_size=4) == [[0, 1, 3, 2], [4]]


def test_logprobs_in_budgeted_batches_equal_the_hand_computation():
    table = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]))
    sequences = [[0, 1, 1, 2], [2, 0], [1, 1, 1]]
    result = token_logprobs(FixedLogits(table), sequences, batch_size=3, pad_token_id=0, max_batch_tokens=6)
    hand = [[0.25, 0.6, 0.3], [0.2], [0.6, 0.6]]
    for row, probabilities in zip(result, hand, strict=True):
        assert row == pytest.approx([math.log(p) for p in probabilities], abs=1e-6)


def test_too_long_prompt_keeps_bos_and_its_end_and_text_keeps_its_start(tiny_bundle):
    from tests.tiny_world import training_texts
    from worker.engine.tiny import train_tokenizer

    tokenizer = train_tokenizer(training_texts(tiny_bundle), vocab_size=300)
    prompt = tiny_bundle.raw_forget[0]
    full = tokenizer(prompt)["input_ids"]
    assert full[0] == tokenizer.bos_token_id and len(full) > 12

    (cut,) = encode_prompts(tokenizer, [prompt], 10)
    assert cut.truncated and cut.ids == [tokenizer.bos_token_id, *full[-9:]]
    (kept,) = encode_prompts(tokenizer, [prompt], len(full))
    assert not kept.truncated and kept.ids == full
    (start,) = encode_texts(tokenizer, [prompt], 10)
    assert start.truncated and start.ids == full[:10]


def test_prompt_room_refuses_a_context_too_short_for_the_new_tokens(tiny_bundle):
    model = type("Model", (), {"config": type("Config", (), {"max_position_embeddings": 100})()})()
    assert prompt_room(model, 32) == 68
    with pytest.raises(ValueError, match="max_new_tokens=128 leaves no room"):
        prompt_room(model, 128)
