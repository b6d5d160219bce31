"""GA and NPO, alone or with a retain term (GDR: cross-entropy, KLR: KL to the target), DESIGN 9."""

import torch
from transformers import PreTrainedModel

from service.specs.unlearning import GradientMethodConfig
from worker.engine.unlearning.base import TokenChunks
from worker.engine.unlearning.losses import (
    gradient_ascent_loss,
    kl_to_target,
    next_token_cross_entropy,
    npo_loss,
    sequence_log_likelihood,
)


def _logits(model: PreTrainedModel, chunks: TokenChunks) -> torch.Tensor:
    return model(input_ids=chunks.input_ids, attention_mask=chunks.mask).logits


class GradientObjective:
    """L_forget + alpha * L_retain for the GA/NPO family; the target is the frozen reference of NPO and KLR."""

    def __init__(self, config: GradientMethodConfig, target: PreTrainedModel):
        self.config = config
        self.target = target

    def forget_loss(self, model: PreTrainedModel, forget: TokenChunks) -> torch.Tensor:
        logits = _logits(model, forget)
        if self.config.forget_loss == "ga":
            return gradient_ascent_loss(logits, forget.input_ids, forget.mask)
        with torch.no_grad():
            target_logits = _logits(self.target, forget)
        return npo_loss(
            sequence_log_likelihood(logits, forget.input_ids, forget.mask),
            sequence_log_likelihood(target_logits, forget.input_ids, forget.mask),
            self.config.beta,
        )

    def retain_loss(self, model: PreTrainedModel, retain: TokenChunks) -> torch.Tensor:
        logits = _logits(model, retain)
        if self.config.retain_loss == "gdr":
            return next_token_cross_entropy(logits, retain.input_ids, retain.mask)
        with torch.no_grad():
            target_logits = _logits(self.target, retain)
        return kl_to_target(logits, target_logits, retain.mask)

    def __call__(
        self, model: PreTrainedModel, forget: TokenChunks, retain: TokenChunks | None
    ) -> dict[str, torch.Tensor]:
        forget_term = self.forget_loss(model, forget)
        if self.config.retain_loss is None or retain is None:
            return {"loss": forget_term, "forget_loss": forget_term.detach()}
        retain_term = self.retain_loss(model, retain)
        return {
            "loss": forget_term + self.config.alpha * retain_term,
            "forget_loss": forget_term.detach(),
            "retain_loss": retain_term.detach(),
        }
