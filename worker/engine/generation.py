"""Batched greedy generation and batched per-token log-probabilities, equal to one-at-a-time evaluation.

MUSE's reference evaluation runs one item at a time without padding. Here items go in batches: prompts are
sorted by length (less padding), left-padded with an attention mask (the model derives positions from the
mask), and results come back in the caller's order. On a trained model the greedy tokens equal those of
one-at-a-time decoding; log-probabilities equal them up to float rounding.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import Cache, DynamicCache, GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from service.specs.evaluation import VerbMemDecoding
from worker.engine.kv_cache import FilledCache
from worker.engine.models import context_length
from worker.engine.output_layer import chunked_logprobs, logits_are_head_of_hidden

BatchDone = Callable[[int], None]  # called with the number of items finished so far
MIN_SHARED_PREFIX = 8  # tokens; a shorter shared prefix is not worth a pass of its own
LOGPROB_BATCH_TOKENS = 4096  # padded tokens per log-prob batch (bounds the logits tensor)
LOGPROB_MIN_LENGTH_SHARE = 0.9  # a log-prob batch's rows are >= 0.9 of its longest: padding <= 10% of a row


@dataclass(frozen=True)
class EncodedText:
    ids: list[int]
    truncated: bool = False


def _leading_bos(ids: list[int], tokenizer: PreTrainedTokenizerBase) -> int:
    return 1 if ids and tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id else 0


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], max_length: int) -> list[EncodedText]:
    """Prompts tokenized with special tokens (BOS); too long ones keep BOS and the END of the prompt."""
    encoded = []
    for ids in tokenizer(list(prompts), add_special_tokens=True)["input_ids"]:
        if len(ids) <= max_length:
            encoded.append(EncodedText(ids))
            continue
        prefix = _leading_bos(ids, tokenizer)
        encoded.append(EncodedText(ids[:prefix] + ids[len(ids) - (max_length - prefix) :], truncated=True))
    return encoded


def encode_texts(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> list[EncodedText]:
    """Texts tokenized with special tokens (BOS); too long ones keep their START."""
    return [
        EncodedText(ids[:max_length], truncated=len(ids) > max_length)
        for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    ]


def prompt_room(model: PreTrainedModel, max_new_tokens: int) -> int:
    """How many prompt tokens fit in the model's context next to `max_new_tokens` generated ones."""
    room = context_length(model) - max_new_tokens
    if room < 2:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's context of "
            f"{context_length(model)} tokens"
        )
    return room


def _batches_by_length(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None = None, min_length_share: float = 0.0
) -> list[list[int]]:
    """Item indices grouped in batches of similar length, longest first (a memory error shows at once).

    A batch holds at most `batch_size` items and, when `max_batch_tokens` is given, at most that many
    padded tokens (one item always fits); an item joins a batch only when it is at least `min_length_share`
    of the batch's longest item (so at most 1 - share of its row is padding).
    """
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    batches: list[list[int]] = []
    for index in order:
        batch = batches[-1] if batches else None
        if (
            batch is None
            or len(batch) == batch_size
            or (max_batch_tokens is not None and (len(batch) + 1) * lengths[batch[0]] > max_batch_tokens)
            or lengths[index] < min_length_share * lengths[batch[0]]
        ):
            batches.append([index])
        else:
            batch.append(index)
    return batches


def _pad(sequences: Sequence[list[int]], pad_token_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        span = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, span] = 1
    return input_ids, attention_mask


def greedy_config(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, max_new_tokens: int) -> GenerationConfig:
    """Plain greedy decoding that stops at the model's EOS; sampling settings of the checkpoint are ignored.

    Never compiled: on a GPU, transformers compiles the forward pass when it sees a static cache, and every
    batch's cache has its own length (a recompilation each time), and compiled kernels may round differently
    from the one-at-a-time reference.
    """
    eos_token_id = model.generation_config.eos_token_id
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos_token_id if eos_token_id is not None else tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        disable_compile=True,
    )


def shared_prefix_length(prompts: Sequence[list[int]]) -> int:
    """How many leading tokens all prompts share, leaving each at least one token of its own."""
    if len(prompts) < 2:
        return 0
    first, shortest = prompts[0], min(len(p) for p in prompts)
    length = 0
    while length < shortest - 1 and all(p[length] == first[length] for p in prompts):
        length += 1
    return length


@torch.inference_mode()
def greedy_generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[int]],
    max_new_tokens: int,
    batch_size: int,
    on_batch: BatchDone | None = None,
) -> list[list[int]]:
    """The generated ids (without the prompt) for each prompt, in the given order.

    With `batch_size` 1 each prompt goes through `generate` alone, as MUSE's reference code runs (into a
    preallocated cache that attention reads up to its filled length: worker/engine/kv_cache.py). When
    batching, the prompts are prefilled one at a time (all but their last token, with the fused causal
    attention kernel and no padding; a left-padded batch would need an explicit mask, and on a CPU that
    prefill ran slower than one prompt at a time), their caches are assembled left-padded, and the decoding
    steps run batched, where batching pays. A prefix shared by every prompt (KnowMem's in-context examples)
    is run once and its cache copied: each row is [shared prefix][left padding][own suffix], the attention
    mask hides the padding and positions follow the mask, so every row sees what it would see alone.
    Finished rows of a batch are filled with the pad token, which decoding without special tokens drops.
    """
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token; batched generation needs one")
    config = greedy_config(model, tokenizer, max_new_tokens)
    shared = shared_prefix_length(prompts) if batch_size > 1 else 0
    shared = shared if shared >= MIN_SHARED_PREFIX else 0
    prefix = list(prompts[0][:shared])
    prefix_cache = _prefill_alone(model, prefix, DynamicCache()) if shared else None
    outputs: list[list[int]] = [[] for _ in prompts]
    done = 0
    for batch in _batches_by_length([len(p) for p in prompts], batch_size):
        suffixes = [prompts[i][shared:] for i in batch]
        suffix_ids, suffix_mask = _pad(suffixes, tokenizer.pad_token_id, left=True)
        prefix_ids = torch.tensor([prefix], dtype=torch.long).expand(len(batch), shared)
        input_ids = torch.cat([prefix_ids, suffix_ids], dim=1)
        attention_mask = torch.cat([torch.ones((len(batch), shared), dtype=torch.long), suffix_mask], dim=1)
        if batch_size > 1 and input_ids.shape[1] > 1:
            cache = _prefilled_batch_cache(model, suffixes, prefix_cache, shared, max_new_tokens)
        else:
            cache = FilledCache(model.config, max_cache_len=input_ids.shape[1] + max_new_tokens)
        generated = model.generate(
            input_ids=input_ids.to(model.device),
            attention_mask=attention_mask.to(model.device),
            generation_config=config,
            past_key_values=cache,
        )
        for row, index in enumerate(batch):
            outputs[index] = generated[row, input_ids.shape[1] :].tolist()
        done += len(batch)
        if on_batch is not None:
            on_batch(done)
    return outputs


def _prefill_alone(model: PreTrainedModel, ids: list[int], cache: Cache) -> Cache:
    """`cache` extended in place by the keys and values of `ids`, run as a batch of one."""
    if ids:
        model(input_ids=torch.tensor([ids], device=model.device), past_key_values=cache, use_cache=True)
    return cache


def _prefilled_batch_cache(
    model: PreTrainedModel,
    suffixes: Sequence[list[int]],
    prefix_cache: Cache | None,
    shared: int,
    max_new_tokens: int,
) -> FilledCache:
    """The batch's cache, every row prefilled alone with all but its last token: [shared prefix][zeros][own tokens].

    The zeros sit where the attention mask has padding, so no query ever reads them. Rows extend the shared
    prefix's cache in turn and it is cut back after each (no copy of the prefix per row). The cache is preallocated
    for the whole generation and each row is copied in as soon as it is computed (memory: the batch's cache
    plus one row): a growing cache copies every row's keys and values at every step, and on a CPU with long
    prompts that copying, not the arithmetic, was most of the decoding time. Rows come longest first.
    """
    own_lengths = [len(suffix) - 1 for suffix in suffixes]
    width = shared + max(own_lengths)
    batch = FilledCache(model.config, max_cache_len=width + max_new_tokens)
    for row, (suffix, own) in enumerate(zip(suffixes, own_lengths, strict=True)):
        if shared + own == 0:
            continue  # a prompt of one token: nothing to cache for it
        alone = _prefill_alone(model, suffix[:-1], prefix_cache if prefix_cache is not None else DynamicCache())
        if row == 0:
            keys = [layer.keys for layer in alone.layers]
            heads, dims = [k.shape[1] for k in keys], [k.shape[3] for k in keys]
            batch.early_initialization(len(suffixes), heads, dims, keys[0].dtype, keys[0].device)
        for source, target in zip(alone.layers, batch.layers, strict=True):
            for part in ("keys", "values"):
                states, merged = getattr(source, part), getattr(target, part)
                merged[row, :, :shared] = states[0, :, :shared]
                merged[row, :, width - own : width] = states[0, :, shared:]
        if prefix_cache is not None and own:
            prefix_cache.crop(-own)  # back to the shared prefix alone, for the next row
    for layer in batch.layers:
        layer.cumulative_length.fill_(width)
    return batch


def decode(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
    """Text as MUSE decodes it: special tokens skipped, tokenization spaces cleaned up.

    MUSE ran transformers 4, which applied the clean-up for every tokenizer; transformers 5 ignores the flag
    for BPE tokenizers (Llama's included), so the clean-up is applied here explicitly.
    """
    text = tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return tokenizer.clean_up_tokenization(text)


def complete(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    on_batch: BatchDone | None = None,
) -> list[tuple[str, bool]]:
    """Each prompt's greedy continuation as text, and whether the prompt was cut to fit the context."""
    encoded = encode_prompts(tokenizer, prompts, prompt_room(model, max_new_tokens))
    generated = greedy_generate(model, tokenizer, [e.ids for e in encoded], max_new_tokens, batch_size, on_batch)
    return [(decode(tokenizer, ids), prompt.truncated) for ids, prompt in zip(generated, encoded, strict=True)]


def complete_sampled(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    decoding: VerbMemDecoding,
    seed: int,
    on_batch: BatchDone | None = None,
) -> list[tuple[list[str], bool]]:
    """Each prompt's sampled continuations (`decoding.samples` of them) as text, and whether it was cut to fit.

    As the paper's released evaluation does it: each prompt alone (no padding), `generate` with do_sample at
    the given temperature (and top_p). The random generator is seeded per prompt (seed + its index), so an
    item's samples are the same whatever else is evaluated, and the global generator is left as it was.
    """
    encoded = encode_prompts(tokenizer, prompts, prompt_room(model, max_new_tokens))
    config = greedy_config(model, tokenizer, max_new_tokens)
    config.do_sample, config.temperature, config.top_p = True, decoding.temperature, decoding.top_p
    config.top_k = None
    config.num_return_sequences = decoding.samples
    devices = [model.device] if model.device.type == "cuda" else []
    results = []
    for index, prompt in enumerate(encoded):
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed + index)
            input_ids = torch.tensor([prompt.ids], device=model.device)
            generated = model.generate(input_ids=input_ids, generation_config=config)
        texts = [decode(tokenizer, row[len(prompt.ids) :].tolist()) for row in generated]
        results.append((texts, prompt.truncated))
        if on_batch is not None:
            on_batch(index + 1)
    return results


@torch.inference_mode()
def token_logprobs(
    model: PreTrainedModel,
    sequences: Sequence[list[int]],
    batch_size: int,
    pad_token_id: int,
    on_batch: BatchDone | None = None,
    max_batch_tokens: int = LOGPROB_BATCH_TOKENS,
) -> list[list[float]]:
    """log p(token_t | tokens before t) for t = 2..T of each sequence (the first token is not predicted).

    Rows are padded on the right and no attention mask is passed, on purpose: under causal attention a real
    token never sees the padding after it and every row's positions start at 0, so each row's log-probs are
    those of its sequence alone (padded positions are never read), and the model keeps its fused causal
    attention kernel instead of materialising a (batch, heads, T, T) mask. When the model's logits are its
    output layer on the decoder's last hidden state (detected), the output layer and the float32 softmax run
    a chunk of positions at a time (worker/engine/output_layer.py); otherwise the model's full logits are
    taken and the softmax runs one row at a time. Batches are capped at `max_batch_tokens`
    padded tokens: the logits of a batch take batch x T x vocabulary floats, and on a CPU long texts in one
    batch ran slower than one at a time (KnowMem-retain's perplexity on 32 MUSE-News texts of ~2,400
    tokens, batches of 16: 127 s against 83 s). A row shorter than `LOGPROB_MIN_LENGTH_SHARE` of its batch's
    longest starts a batch of its own: the decoder computes every padded position, and on texts of mixed
    lengths (bench/bench_forward.py's PrivLeak texts) padding was 15% of the decoder's tokens.
    """
    results: list[list[float]] = [[] for _ in sequences]
    done = 0
    chunked = logits_are_head_of_hidden(model)
    all_lengths = [len(s) for s in sequences]
    for batch in _batches_by_length(all_lengths, batch_size, max_batch_tokens, LOGPROB_MIN_LENGTH_SHARE):
        input_ids, _ = _pad([sequences[i] for i in batch], pad_token_id, left=False)
        input_ids = input_ids.to(model.device)
        lengths = [all_lengths[index] for index in batch]
        rows = chunked_logprobs(model, input_ids, lengths) if chunked else _full_logprobs(model, input_ids, lengths)
        for index, row in zip(batch, rows, strict=True):
            results[index] = row
        done += len(batch)
        if on_batch is not None:
            on_batch(done)
    return results


def _full_logprobs(model: PreTrainedModel, input_ids: torch.Tensor, lengths: Sequence[int]) -> list[list[float]]:
    """Per-row log-probs from the model's full logits, the softmax one row at a time in float32."""
    logits = model(input_ids=input_ids, attention_mask=None).logits
    rows = []
    for row, length in enumerate(lengths):
        log_probs = torch.log_softmax(logits[row, : length - 1].float(), dim=-1)
        targets = input_ids[row, 1:length].to(log_probs.device)
        rows.append(log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).tolist())
    return rows
