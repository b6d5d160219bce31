"""The preallocated cache read up to its filled length: same greedy tokens, attention over filled positions only."""

import pytest
import torch
from transformers import AutoModelForCausalLM, StaticCache

from tests.architectures import ARCHITECTURES, Dimensions, architecture_config
from worker.engine.generation import greedy_generate
from worker.engine.kv_cache import FilledCache

PROMPTS = [[1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51], [1, 7, 300], [1, 99, 98, 97, 96, 95], [1]]
NEW_TOKENS = 8


class Tokens:
    """The tokenizer attributes greedy generation reads."""

    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2


def random_model(architecture: str):
    torch.manual_seed(0)
    config = architecture_config(architecture, Dimensions())
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():  # well-separated logits: a greedy choice is not a float-rounding coin flip
        model.get_output_embeddings().weight.mul_(40)
    model.generation_config.eos_token_id = None  # every prompt decodes all its tokens
    return model


def reference(model, prompt: list[int]) -> list[int]:
    """One prompt, no padding, a growing cache: generate as MUSE calls it."""
    with torch.inference_mode():
        output = model.generate(
            torch.tensor([prompt]), max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0, eos_token_id=None
        )
    return output[0, len(prompt) :].tolist()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_greedy_tokens_equal_the_growing_cache_ones_alone_and_batched(architecture):
    model = random_model(architecture)
    expected = [reference(model, prompt) for prompt in PROMPTS]
    assert greedy_generate(model, Tokens(), PROMPTS, NEW_TOKENS, batch_size=1) == expected
    assert greedy_generate(model, Tokens(), PROMPTS, NEW_TOKENS, batch_size=3) == expected


def test_attention_reads_the_filled_positions_only():
    model = random_model("llama")
    filled, static = FilledCache(model.config, max_cache_len=64), StaticCache(config=model.config, max_cache_len=64)
    with torch.inference_mode():
        for cache in (filled, static):
            model(input_ids=torch.tensor([PROMPTS[0]]), past_key_values=cache, use_cache=True)
    assert filled.get_mask_sizes(1, 0) == (len(PROMPTS[0]) + 1, 0)
    assert static.get_mask_sizes(1, 0) == (64, 0), "transformers' static cache attends over all 64 positions"
    layer = filled.layers[0]
    with torch.inference_mode():
        step = torch.zeros((1, layer.num_heads, 1, layer.k_head_dim))
        keys, values = layer.update(step, step)
    assert keys.shape[2] == values.shape[2] == len(PROMPTS[0]) + 1
    assert torch.equal(keys[:, :, : len(PROMPTS[0])], static.layers[0].keys[:, :, : len(PROMPTS[0])])
