"""The losses a gradient method composes (DESIGN 9), one small registered class each.

A forget loss scores the forget batch, a retain loss the retain batch; service/specs/unlearning.py's
GRADIENT_METHODS names which of them a user-facing method combines. Each term computes the logits it needs:
the model's with gradients, the frozen target's (NPO's reference, KLR's teacher) without.
"""

from typing import Protocol

import torch
from transformers import PreTrainedModel

from service.specs.unlearning import GradientMethodConfig
from worker.engine.registry import Registry
from worker.engine.unlearning.base import TokenChunks
from worker.engine.unlearning.losses import (
    gradient_ascent_loss,
    kl_to_target,
    next_token_cross_entropy,
    npo_loss,
    sequence_log_likelihood,
)


class LossTerm(Protocol):
    def __call__(
        self, model: PreTrainedModel, target: PreTrainedModel, chunks: TokenChunks, config: GradientMethodConfig
    ) -> torch.Tensor: ...


FORGET_LOSSES: Registry[type[LossTerm]] = Registry("forget loss")
RETAIN_LOSSES: Registry[type[LossTerm]] = Registry("retain loss")


def logits(model: PreTrainedModel, chunks: TokenChunks) -> torch.Tensor:
    return model(input_ids=chunks.input_ids, attention_mask=chunks.mask).logits


@torch.no_grad()
def target_logits(target: PreTrainedModel, chunks: TokenChunks) -> torch.Tensor:
    return logits(target, chunks)


@FORGET_LOSSES.register("ga")
class GradientAscent:
    def __call__(
        self, model: PreTrainedModel, target: PreTrainedModel, chunks: TokenChunks, config: GradientMethodConfig
    ) -> torch.Tensor:
        return gradient_ascent_loss(logits(model, chunks), chunks.input_ids, chunks.mask)


@FORGET_LOSSES.register("npo")
class NegativePreference:
    def __call__(
        self, model: PreTrainedModel, target: PreTrainedModel, chunks: TokenChunks, config: GradientMethodConfig
    ) -> torch.Tensor:
        model_logits = logits(model, chunks)
        return npo_loss(
            sequence_log_likelihood(model_logits, chunks.input_ids, chunks.mask),
            sequence_log_likelihood(target_logits(target, chunks), chunks.input_ids, chunks.mask),
            config.beta,
        )


@RETAIN_LOSSES.register("gdr")
class RetainCrossEntropy:
    def __call__(
        self, model: PreTrainedModel, target: PreTrainedModel, chunks: TokenChunks, config: GradientMethodConfig
    ) -> torch.Tensor:
        return next_token_cross_entropy(logits(model, chunks), chunks.input_ids, chunks.mask)


@RETAIN_LOSSES.register("klr")
class RetainKL:
    def __call__(
        self, model: PreTrainedModel, target: PreTrainedModel, chunks: TokenChunks, config: GradientMethodConfig
    ) -> torch.Tensor:
        model_logits = logits(model, chunks)
        return kl_to_target(model_logits, target_logits(target, chunks), chunks.mask)
