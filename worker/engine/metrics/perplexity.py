"""Perplexity on retain text, reported beside KnowMem on retain as a second utility signal (DESIGN 8.4)."""

import math

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from worker.engine.generation import encode_texts, token_logprobs
from worker.engine.metrics.base import EvalContext
from worker.engine.models import context_length

RAW_CHUNK_TOKENS = 1024


def raw_chunks(
    tokenizer: PreTrainedTokenizerBase, documents: list[str], window: int, limit: int | None
) -> list[list[int]]:
    """Raw documents cut into pieces of `window` tokens, each starting with BOS as a fresh text would."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    step = window - len(bos)
    chunks: list[list[int]] = []
    for document in documents:
        ids = tokenizer(document, add_special_tokens=False)["input_ids"]
        chunks.extend(bos + ids[start : start + step] for start in range(0, len(ids), step))
        if limit is not None and len(chunks) >= limit:
            break
    return [chunk for chunk in chunks[:limit] if len(chunk) > 1]


def retain_sequences(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, corpus: CorpusBundle, context: EvalContext
) -> list[list[int]]:
    """privleak/retain texts when present (start kept if too long), else chunks of raw/retain; [] if neither."""
    if corpus.privleak_retain:
        texts = context.first_items(corpus.privleak_retain)
        return [encoded.ids for encoded in encode_texts(tokenizer, texts, context_length(model))]
    if corpus.raw_retain:
        window = min(context_length(model), RAW_CHUNK_TOKENS)
        return raw_chunks(tokenizer, corpus.raw_retain, window, context.limits.max_items)
    return []


def retain_perplexity(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, corpus: CorpusBundle, context: EvalContext
) -> float | None:
    """exp of the mean negative log-likelihood over every predicted retain token; None without retain text."""
    sequences = retain_sequences(model, tokenizer, corpus, context)
    if not sequences:
        return None
    log_probs = token_logprobs(model, sequences, context.limits.batch_size, tokenizer.pad_token_id)
    total = sum(sum(row) for row in log_probs)
    count = sum(len(row) for row in log_probs)
    return math.exp(-total / count)
