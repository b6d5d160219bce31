"""The gradient family: the method's forget loss plus alpha times its retain loss (DESIGN 9)."""

import torch
from transformers import PreTrainedModel

from service.specs.unlearning import GradientMethodConfig
from worker.engine.unlearning.base import TokenChunks
from worker.engine.unlearning.terms import FORGET_LOSSES, RETAIN_LOSSES, LossTerm


class GradientObjective:
    """L_forget + alpha * L_retain with the losses the config's method names; the target is frozen."""

    def __init__(self, config: GradientMethodConfig, target: PreTrainedModel):
        self.config = config
        self.target = target
        self.forget_term = FORGET_LOSSES.get(config.forget_loss)()
        retain = config.retain_loss
        self.retain_term: LossTerm | None = RETAIN_LOSSES.get(retain)() if retain is not None else None

    def forget_loss(self, model: PreTrainedModel, forget: TokenChunks) -> torch.Tensor:
        return self.forget_term(model, self.target, forget, self.config)

    def __call__(
        self, model: PreTrainedModel, forget: TokenChunks, retain: TokenChunks | None
    ) -> dict[str, torch.Tensor]:
        forget_term = self.forget_loss(model, forget)
        if self.retain_term is None or retain is None:
            return {"loss": forget_term, "forget_loss": forget_term.detach()}
        retain_term = self.retain_term(model, self.target, retain, self.config)
        return {
            "loss": forget_term + self.config.alpha * retain_term,
            "forget_loss": forget_term.detach(),
            "retain_loss": retain_term.detach(),
        }
