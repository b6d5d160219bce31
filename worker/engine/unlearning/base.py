"""What every unlearning method shares: token chunks, forget/retain pairing and the training loop.

The loop is the one of DESIGN 9: AdamW with a constant learning rate, gradient clipping, a seed, epochs or
a step budget, and optional gradient accumulation (several batches per optimizer step). Pure bf16 training
is the model cast to bf16 before the optimizer is built: AdamW then keeps its moments in bf16 too, as the
paper's runs did.
"""

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from worker.engine.progress import Progress, no_progress


@dataclass(frozen=True)
class TokenChunks:
    """Fixed-length token chunks of a text corpus; the last chunk may be shorter (padding masked out)."""

    input_ids: torch.Tensor  # [n_chunks, length], long
    mask: torch.Tensor  # [n_chunks, length], 1 for real tokens

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def select(self, indices: Sequence[int]) -> "TokenChunks":
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return TokenChunks(self.input_ids[index], self.mask[index])

    def to(self, device: torch.device) -> "TokenChunks":
        return TokenChunks(self.input_ids.to(device), self.mask.to(device))


def chunk_corpus(
    tokenizer: PreTrainedTokenizerBase, documents: Sequence[str], length: int, source: str, bos_per_chunk: bool = False
) -> TokenChunks:
    """Tokenize the documents, concatenate them and cut the stream into `length`-token chunks.

    By default each document is tokenized with its special tokens (BOS). With `bos_per_chunk` the documents
    are tokenized without them and every chunk is BOS + `length` - 1 tokens of the stream, as MUSE's and the
    paper's training data (their dataset.py).
    """
    pieces = (
        _bos_chunks(tokenizer, documents, length, source)
        if bos_per_chunk
        else _plain_chunks(tokenizer, documents, length)
    )
    pieces = [piece for piece in pieces if len(piece) > 1]
    if not pieces:
        raise ValueError(f"{source}: the text has fewer than 2 tokens, nothing to train on")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(pieces), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(pieces), length), dtype=torch.long)
    for row, piece in enumerate(pieces):
        input_ids[row, : len(piece)] = torch.tensor(piece)
        mask[row, : len(piece)] = 1
    return TokenChunks(input_ids, mask)


def _plain_chunks(tokenizer: PreTrainedTokenizerBase, documents: Sequence[str], length: int) -> list[list[int]]:
    stream: list[int] = []
    for document in documents:
        stream.extend(tokenizer(document)["input_ids"])
    return [stream[start : start + length] for start in range(0, len(stream), length)]


def _bos_chunks(
    tokenizer: PreTrainedTokenizerBase, documents: Sequence[str], length: int, source: str
) -> list[list[int]]:
    if tokenizer.bos_token_id is None:
        raise ValueError(f"{source}: bos_per_chunk needs a tokenizer with a BOS token; this one has none")
    stream: list[int] = []
    for document in documents:
        stream.extend(tokenizer(document, add_special_tokens=False)["input_ids"])
    body = length - 1
    return [[tokenizer.bos_token_id, *stream[start : start + body]] for start in range(0, len(stream), body)]


@dataclass(frozen=True)
class LoopSettings:
    lr: float
    batch_size: int
    max_grad_norm: float
    weight_decay: float
    epochs: int
    max_steps: int | None
    seed: int
    gradient_accumulation: int = 1

    def total_steps(self, n_forget_chunks: int) -> int:
        """Optimizer steps: `max_steps` when given (the data is cycled as often as needed), else `epochs`
        passes of ceil(batches per pass / gradient_accumulation) steps."""
        if self.max_steps is not None:
            return self.max_steps
        batches_per_epoch = -(-n_forget_chunks // self.batch_size)
        return self.epochs * -(-batches_per_epoch // self.gradient_accumulation)


def pair_batches(
    n_forget: int, n_retain: int, batch_size: int, steps: int, seed: int
) -> Iterator[tuple[list[int], list[int]]]:
    """Forget chunk indices (each epoch a fresh permutation, cut into batches) paired with as many retain
    chunk indices (a cycling permutation of its own); n_retain = 0 gives empty retain batches."""
    rng = random.Random(seed)
    retain_order: list[int] = []
    forget_order: list[int] = []
    for _ in range(steps):
        if not forget_order:
            forget_order = rng.sample(range(n_forget), n_forget)
        forget_batch, forget_order = forget_order[:batch_size], forget_order[batch_size:]
        retain_batch: list[int] = []
        while n_retain and len(retain_batch) < len(forget_batch):
            if not retain_order:
                retain_order = rng.sample(range(n_retain), n_retain)
            retain_batch.append(retain_order.pop())
        yield forget_batch, retain_batch


class Objective(Protocol):
    """A method's loss on one (forget, retain) batch pair: {'loss': total, other named terms...}."""

    def __call__(
        self, model: PreTrainedModel, forget: TokenChunks, retain: TokenChunks | None
    ) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainingResult:
    steps: int
    curve: list[dict[str, float]]
    duration_s: float
    optimizer_state_dtypes: list[str]  # bf16 for pure bf16 training, as the paper's runs


def train_unlearning(
    model: PreTrainedModel,
    objective: Objective,
    forget: TokenChunks,
    retain: TokenChunks | None,
    settings: LoopSettings,
    trainable: Sequence[torch.nn.Parameter],
    after_step: Callable[[], None] | None = None,
    progress: Progress = no_progress,
    stage: str = "unlearn",
) -> TrainingResult:
    """Run the loop on `model` in place; only `trainable` parameters are given to the optimizer."""
    torch.manual_seed(settings.seed)
    trainable = list(trainable)
    trainable_ids = {id(parameter) for parameter in trainable}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in trainable_ids)
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
    total = settings.total_steps(len(forget))
    device = next(model.parameters()).device
    curve: list[dict[str, float]] = []
    started = time.perf_counter()
    model.train()
    accumulation = settings.gradient_accumulation
    batches = pair_batches(
        len(forget), len(retain) if retain else 0, settings.batch_size, total * accumulation, settings.seed
    )
    for step in range(1, total + 1):
        optimizer.zero_grad(set_to_none=True)
        terms: dict[str, float] = {}
        for _ in range(accumulation):
            forget_indices, retain_indices = next(batches)
            forget_batch = forget.select(forget_indices).to(device)
            retain_batch = retain.select(retain_indices).to(device) if retain and retain_indices else None
            batch_terms = objective(model, forget_batch, retain_batch)
            loss = batch_terms["loss"]
            (loss / accumulation if accumulation > 1 else loss).backward()
            for name, value in batch_terms.items():
                terms[name] = terms.get(name, 0.0) + float(value.detach()) / accumulation
        grad_norm = torch.nn.utils.clip_grad_norm_(trainable, settings.max_grad_norm)
        optimizer.step()
        if after_step is not None:
            after_step()
        curve.append({"step": float(step), "grad_norm": float(grad_norm)} | terms)
        progress(stage, step, total)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    state_dtypes = {
        str(value.dtype).removeprefix("torch.")
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor) and value.dim() > 0
    }
    return TrainingResult(total, curve, time.perf_counter() - started, sorted(state_dtypes))
