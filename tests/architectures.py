"""Random models of the common decoder architectures, built from a config (nothing downloaded).

`architecture_config` gives each architecture at any size: tiny for the tests, ~1B parameters for the
benchmarks (bench/make_checkpoint.py). GPT-2 stores its linear layers as Conv1D (weights transposed),
Phi-3 fuses q, k, v into one projection, GPT-2 and Gemma tie the output head to the embedding.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedTokenizerBase


@dataclass(frozen=True)
class Dimensions:
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 128
    vocab: int = 512
    positions: int = 512


def architecture_config(
    model_type: str, dims: Dimensions, bos: int = 1, eos: int = 2, pad: int = 0
) -> PretrainedConfig:
    """A config of `model_type` with these dimensions and special token ids."""
    tokens = {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad, "vocab_size": dims.vocab}
    head_dim = dims.hidden // dims.heads
    decoder = {
        "hidden_size": dims.hidden, "num_hidden_layers": dims.layers, "num_attention_heads": dims.heads,
        "intermediate_size": dims.intermediate, "max_position_embeddings": dims.positions,
    }  # fmt: skip
    grouped = {**decoder, "num_key_value_heads": dims.kv_heads}
    settings = {
        "llama": {**grouped, "tie_word_embeddings": False},
        "mistral": {**grouped, "sliding_window": None, "tie_word_embeddings": False},
        "qwen2": {**grouped, "tie_word_embeddings": False, "use_sliding_window": False},
        "gemma": {**grouped, "head_dim": head_dim, "tie_word_embeddings": True},
        "phi3": {**grouped, "tie_word_embeddings": False, "original_max_position_embeddings": dims.positions},
        "gpt_neox": {**decoder, "rotary_pct": 0.25, "tie_word_embeddings": False},
        "opt": {
            "hidden_size": dims.hidden, "num_hidden_layers": dims.layers, "num_attention_heads": dims.heads,
            "ffn_dim": dims.intermediate, "max_position_embeddings": dims.positions,
            "word_embed_proj_dim": dims.hidden, "tie_word_embeddings": True,
        },
        "gemma2": {**grouped, "head_dim": head_dim, "tie_word_embeddings": True, "final_logit_softcapping": 30.0},
        "cohere": {**grouped, "tie_word_embeddings": True, "logit_scale": 0.0625},
        "gpt2": {
            "n_embd": dims.hidden, "n_layer": dims.layers, "n_head": dims.heads, "n_inner": dims.intermediate,
            "n_positions": dims.positions, "tie_word_embeddings": True,
        },
    }  # fmt: skip
    return AutoConfig.for_model(model_type, **settings[model_type], **tokens)


ARCHITECTURES = ("llama", "mistral", "qwen2", "gemma", "phi3", "gpt_neox", "opt", "gpt2")


def save_random_pair(architecture: str, tokenizer: PreTrainedTokenizerBase, root: Path) -> tuple[Path, Path]:
    """ROOT/target (a random one-layer model of `architecture`) and ROOT/unlearned (it, every weight moved by
    1e-4 noise), each with `tokenizer`."""
    config = architecture_config(
        architecture, Dimensions(layers=1, vocab=len(tokenizer)), tokenizer.bos_token_id, tokenizer.eos_token_id,
        tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    folders = root / "target", root / "unlearned"
    model.save_pretrained(folders[0])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)) * 1e-4)
    model.save_pretrained(folders[1])
    for folder in folders:
        tokenizer.save_pretrained(folder)
    return folders


# models whose logits are not the output layer on the last hidden state: soft-capped, scaled
TRANSFORMED_LOGITS = ("gemma2", "cohere")
