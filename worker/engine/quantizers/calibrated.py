"""GPTQ and AWQ through llm-compressor (maintained; its compressed-tensors checkpoints load in transformers
and vLLM).

`oneshot` runs on a deep copy with calibration texts from the corpus (the first `calibration_samples`,
each cut to `calibration_length` tokens). llm-compressor targets nn.Linear, so the copy's Conv1D layers
(GPT-2) are first replaced by the nn.Linear they compute. Every linear layer gets the precision's integer
grid (bits, group size or per channel, symmetric or not); the output head stays in full precision. The
result keeps its Linear modules with fake-quantized weights (each weight is its dequantized value), ready
for generate(); the layers reported as quantized are those llm-compressor gave a quantization scheme.
The copy is a whole one (AWQ rescales norms and layers in place).

Both run on CPU here (measured with llm-compressor 0.14 on the tiny test model). AWQ's smoothing step pins
its cached activations in page-locked memory to speed up copies to the GPU, which raises without an
accelerator; `unpinned_cache_without_accelerator` turns only that optimisation off when no CUDA device is
visible.

Codes for bucket collision are approximate: the real codes depend on the calibration data and the order
of rounding (GPTQ) or the activation-aware scales (AWQ), so `weight_codes` gives the RTN codes of the
weight on the method's grid, with compressed-tensors' symmetric step (absmax / 7.5 at 4 bits).
"""

import contextlib
import copy
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.precision import AWQPrecision, GPTQPrecision
from worker.engine.quantizers.base import (
    OUTPUT_HEAD_NAMES,
    Quantizer,
    WeightCodes,
    as_linear,
    linear_layers,
    weight_matrix,
)
from worker.engine.quantizers.rtn import rtn_weight_codes

CalibratedConfigT = TypeVar("CalibratedConfigT", GPTQPrecision, AWQPrecision)


class _CalibratedQuantizer(Quantizer[CalibratedConfigT]):
    requires_calibration = True
    required_packages = ("llmcompressor",)
    approximate_codes = True

    def quantize_layers(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None,
    ) -> tuple[PreTrainedModel, list[str]]:
        from llmcompressor import oneshot

        self.check_group_size(model)
        dataset = self.calibration_dataset(tokenizer, calibration_texts)
        copied = copy.deepcopy(model)
        for name, module in linear_layers(copied).items():
            copied.set_submodule(name, as_linear(module))
        with unpinned_cache_without_accelerator():
            quantized = oneshot(
                model=copied,
                dataset=dataset,
                recipe=[self.modifier()],
                num_calibration_samples=len(dataset),
                max_seq_length=self.config.calibration_length,
                shuffle_calibration_samples=False,
            )
        quantized.eval()
        quantized_names = [name for name, module in linear_layers(quantized).items() if quantization_scheme(module)]
        return quantized, quantized_names

    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        config = self.config
        return rtn_weight_codes(weight, config.bits, config.group_size, config.symmetric, half_range_scale=True)

    @abstractmethod
    def modifier(self) -> Any:
        """The llm-compressor modifier that applies this method."""

    def scheme(self) -> dict[str, object]:
        """compressed-tensors config groups: the precision's integer grid on every Linear."""
        from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

        config = self.config
        weights = QuantizationArgs(
            num_bits=config.bits,
            type="int",
            symmetric=config.symmetric,
            strategy="channel" if config.group_size is None else "group",
            group_size=config.group_size,
        )
        return {"group_0": QuantizationScheme(targets=["Linear"], weights=weights)}

    def ignored_modules(self) -> list[str]:
        return [f"re:.*{name}$" for name in OUTPUT_HEAD_NAMES]

    def check_group_size(self, model: PreTrainedModel) -> None:
        """llm-compressor needs whole groups: refuse early with the layer that does not divide."""
        group_size = self.config.group_size
        if group_size is None:
            return
        for name, module in linear_layers(model).items():
            in_features = weight_matrix(module).shape[1]
            if in_features % group_size:
                raise ValueError(
                    f"{self.method}: group_size {group_size} does not divide the input dimension {in_features} "
                    f"of layer '{name}'; choose a divisor of it or group_size null (per output channel)"
                )

    def calibration_dataset(self, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str] | None) -> Any:
        from datasets import Dataset

        chosen = [text for text in texts or [] if text.strip()][: self.config.calibration_samples]
        if not chosen:
            raise ValueError(f"{self.method} needs calibration_texts (non-empty texts from the forget corpus)")
        encoded = tokenizer(chosen, truncation=True, max_length=self.config.calibration_length)
        return Dataset.from_dict({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]})


def quantization_scheme(module: torch.nn.Module) -> object | None:
    """The compressed-tensors scheme llm-compressor attached to a layer it quantized (None: left as it was)."""
    return getattr(module, "quantization_scheme", None)


@contextlib.contextmanager
def unpinned_cache_without_accelerator() -> Iterator[None]:
    """Without CUDA, make llm-compressor's activation cache skip pinning memory (see the module docstring)."""
    from llmcompressor.pipelines.cache import IntermediatesCache

    if torch.cuda.is_available():
        yield
        return
    pin_memory = IntermediatesCache.pin_memory
    IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        IntermediatesCache.pin_memory = pin_memory


class GPTQQuantizer(_CalibratedQuantizer[GPTQPrecision]):
    method = "gptq"

    def modifier(self) -> Any:
        from llmcompressor.modifiers.quantization import GPTQModifier

        return GPTQModifier(
            config_groups=self.scheme(), ignore=self.ignored_modules(), dampening_frac=self.config.dampening
        )


class AWQQuantizer(_CalibratedQuantizer[AWQPrecision]):
    method = "awq"

    def modifier(self) -> object:
        from llmcompressor.modifiers.awq import AWQModifier

        return AWQModifier(config_groups=self.scheme(), ignore=self.ignored_modules())
