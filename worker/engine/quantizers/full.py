"""Full precision: the model as stored, the baseline that recovery is measured against."""

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.precision import FullPrecision
from worker.engine.quantizers.base import Quantizer, WeightCodes


class FullQuantizer(Quantizer[FullPrecision]):
    method = "full"

    def quantize(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None = None,
    ) -> PreTrainedModel:
        """The model itself, not a copy: nothing changes its weights, so sharing it is safe and free."""
        return model

    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        raise ValueError("precision 'full' has no quantization codes: bucket collision needs a quantizer")
