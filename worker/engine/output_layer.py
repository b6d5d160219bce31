"""Per-token log-probabilities with the output layer applied a chunk of positions at a time.

A causal LM's logits are (batch, T, vocabulary) floats, tens of MB for one long text; the log-softmax makes a
second tensor of that size. When the logits are exactly the output layer applied to the decoder's last hidden
state, the decoder runs once and the output layer, log-softmax and gather run on `LOGIT_CHUNK_BYTES` of logits
at a time: one chunk of logits is ever in memory, and the numbers are those of the full pass (same operations
on the same rows). Whether a model is such a model is detected, not assumed: a probe pass checks that the
logits the model returns are the very tensor its output layer produced from the decoder's output. Models that
transform the logits afterwards (soft-capping, logit scaling) or compute them another way take the full path.
"""

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

LOGIT_CHUNK_BYTES = 16 * 2**20  # float32 logits of one chunk of positions
PROBE_IDS = [1, 2, 3, 4]


def _decoder_and_head(model: Any) -> tuple[nn.Module, nn.Module] | None:
    get_decoder, get_head = getattr(model, "get_decoder", None), getattr(model, "get_output_embeddings", None)
    if get_decoder is None or get_head is None:
        return None
    decoder, head = get_decoder(), get_head()
    if not isinstance(decoder, nn.Module) or not isinstance(head, nn.Module) or decoder is model:
        return None
    return decoder, head


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return getattr(value, "last_hidden_state", None)


@torch.inference_mode()
def logits_are_head_of_hidden(model: Any) -> bool:
    """True when `model(ids).logits` is the output layer's own output on the decoder's last hidden state."""
    parts = _decoder_and_head(model)
    if parts is None:
        return False
    decoder, head = parts
    seen: dict[str, torch.Tensor | None] = {}

    def on_decoder(_module: nn.Module, _args: Any, output: Any) -> None:
        seen["hidden"] = _first_tensor(output)

    def on_head(_module: nn.Module, args: Any, output: Any) -> None:
        seen["head_input"], seen["head_output"] = _first_tensor(args), _first_tensor(output)

    hooks = [decoder.register_forward_hook(on_decoder), head.register_forward_hook(on_head)]
    try:
        probe = torch.tensor([PROBE_IDS], device=_device(model)) % _vocabulary(head)
        logits = model(input_ids=probe, attention_mask=None, use_cache=False).logits
    finally:
        for hook in hooks:
            hook.remove()
    hidden, head_input = seen.get("hidden"), seen.get("head_input")
    return (
        logits is seen.get("head_output")
        and hidden is not None
        and head_input is not None
        and head_input.shape == hidden.shape
        and bool(torch.equal(head_input, hidden))
    )


def _device(model: Any) -> torch.device:
    return torch.device(getattr(model, "device", "cpu"))


def _vocabulary(head: nn.Module) -> int:
    weight = getattr(head, "weight", None)
    return int(weight.shape[0]) if isinstance(weight, torch.Tensor) else max(PROBE_IDS) + 1


def chunk_positions(vocabulary: int, chunk_bytes: int = LOGIT_CHUNK_BYTES) -> int:
    """How many positions' float32 logits fit in `chunk_bytes` (at least one)."""
    return max(1, chunk_bytes // (4 * vocabulary))


@torch.inference_mode()
def chunked_logprobs(
    model: Any, input_ids: torch.Tensor, lengths: Sequence[int], chunk_bytes: int = LOGIT_CHUNK_BYTES
) -> list[list[float]]:
    """log p(token_t | tokens before t), t = 2..length, of each right-padded row; the model must pass
    `logits_are_head_of_hidden`. The rows' predicting positions are stacked and the output layer runs on a
    chunk of them at a time."""
    parts = _decoder_and_head(model)
    if parts is None:
        raise ValueError("the model has no separate decoder and output layer")
    decoder, head = parts
    hidden = _first_tensor(decoder(input_ids=input_ids, attention_mask=None, use_cache=False))
    assert hidden is not None
    states = torch.cat([hidden[row, : length - 1] for row, length in enumerate(lengths)])
    targets = torch.cat([input_ids[row, 1:length] for row, length in enumerate(lengths)]).to(states.device)
    step = chunk_positions(_vocabulary(head), chunk_bytes)
    picked = []
    for start in range(0, states.shape[0], step):
        log_probs = torch.log_softmax(head(states[start : start + step]).float(), dim=-1)
        picked.append(log_probs.gather(-1, targets[start : start + step].unsqueeze(-1)).squeeze(-1))
    flat = torch.cat(picked).tolist() if picked else []
    ends = torch.tensor([length - 1 for length in lengths]).cumsum(0).tolist()
    return [flat[end - (length - 1) : end] for end, length in zip(ends, lengths, strict=True)]
