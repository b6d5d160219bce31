"""Full precision: the model as stored, the baseline that recovery is measured against."""

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.precision import FullPrecision
from worker.engine.quantizers.base import QuantizedModel, Quantizer, WeightCodes


class FullQuantizer(Quantizer[FullPrecision]):
    method = "full"

    def quantize(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None = None,
    ) -> QuantizedModel:
        """The model itself, not a copy: nothing changes its weights, so sharing it is safe and free."""
        return QuantizedModel(model, None)

    def quantize_layers(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None,
    ) -> tuple[PreTrainedModel, list[str]]:
        raise ValueError("precision 'full' quantizes no layer")

    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        raise ValueError("precision 'full' has no quantization codes: bucket collision needs a quantizer")
