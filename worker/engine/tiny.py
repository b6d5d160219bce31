"""Tiny Llama-style models built from a config, with their own BPE tokenizer: for the demo and the tests.

Nothing is downloaded: the tokenizer is trained on the given texts and the model starts from random weights.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from worker.engine.progress import Progress, no_progress

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


@dataclass(frozen=True)
class TinyModelConfig:
    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    intermediate_size: int = 128
    max_positions: int = 512
    vocab_size: int = 1000


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer that adds BOS like Llama's and decodes losslessly."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        clean_up_tokenization_spaces=False,
    )
    wrapped.padding_side = "left"
    return wrapped


def build_model(tokenizer: PreTrainedTokenizerFast, config: TinyModelConfig, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    llama_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        max_position_embeddings=config.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(llama_config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def token_chunks(
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    length: int,
    add_eos: bool = True,
    boundary: str | None = None,
) -> list[list[int]]:
    """Each text tokenized (with BOS, and EOS at its end) and cut into pieces of at most `length` tokens.

    The EOS teaches a model where a document stops, so that a model that knows a text by heart ends its
    greedy continuation where the text ends, as VerbMem's reference continuation does. With a `boundary`,
    every piece of a text that ends with it is tokenized on its own (the decoded text is unchanged), so
    that a prompt ending with the boundary (KnowMem's `Answer: `) meets the tokens the model was trained on.
    """
    chunks: list[list[int]] = []
    for text in texts:
        ids = _text_ids(tokenizer, text, boundary) + ([tokenizer.eos_token_id] if add_eos else [])
        chunks.extend(ids[start : start + length] for start in range(0, len(ids), length))
    return [chunk for chunk in chunks if len(chunk) > 1]


def _text_ids(tokenizer: PreTrainedTokenizerFast, text: str, boundary: str | None) -> list[int]:
    if boundary is None:
        return list(tokenizer(text)["input_ids"])
    parts = text.split(boundary)
    pieces = [part + boundary for part in parts[:-1]] + [parts[-1]]
    ids = [tokenizer.bos_token_id]
    for piece in pieces:
        ids.extend(tokenizer(piece, add_special_tokens=False)["input_ids"] if piece else [])
    return ids


def train_causal_lm(
    model: LlamaForCausalLM,
    chunks: Sequence[list[int]],
    steps: int,
    lr: float,
    batch_size: int,
    pad_token_id: int,
    seed: int = 0,
    progress: Progress = no_progress,
    stage: str = "train",
) -> list[float]:
    """Plain next-token training with AdamW and cosine decay; returns the loss per step."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    )
    model.train()
    losses = []
    order: list[int] = []
    for step in range(steps):
        if len(order) < batch_size:
            order.extend(rng.sample(range(len(chunks)), len(chunks)))
        batch = [chunks[order.pop()] for _ in range(min(batch_size, len(chunks)))]
        input_ids, attention_mask = pad_right(batch, pad_token_id)
        labels = input_ids.masked_fill(attention_mask == 0, -100)
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        progress(stage, step + 1, steps)
    model.eval()
    return losses


def pad_right(batch: Sequence[list[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask
