"""The quantizer interface: one class per method (DESIGN 10), each with its capability flags.

A quantizer builds a NEW quantized model from a model kept in memory (the engine builds every precision
from one loaded model), and reads back the quantized code of any weight matrix (for bucket collision,
DESIGN 8.6).
"""

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

OUTPUT_HEAD_NAMES = ("lm_head", "embed_out", "output")
"""Output projections that stay in full precision (transformers' quantizers skip them too)."""
EMBEDDING_NAMES = ("wte", "wpe")
"""Embedding tables whose names do not contain `embed` (GPT-2 style)."""

ConfigT = TypeVar("ConfigT")

PIP_NAMES = {"bitsandbytes": "bitsandbytes", "llmcompressor": "llmcompressor"}


class QuantizerUnavailable(RuntimeError):
    """This machine cannot run the quantizer; the message says what is missing and how to fix it."""


@dataclass
class WeightCodes:
    """The quantized form of one weight matrix, every tensor with the weight's shape except `scales`."""

    codes: torch.Tensor  # integer code of every weight
    scales: torch.Tensor  # the step/scale of each quantization group (absmax per block for bitsandbytes)
    bucket_width: torch.Tensor  # distance between the values of the neighbouring codes around each weight
    dequantized: torch.Tensor  # the value each weight takes after quantization


class Quantizer(ABC, Generic[ConfigT]):
    """One quantization method. Subclasses set the class flags and implement `quantize` and `weight_codes`."""

    method: ClassVar[str]
    requires_calibration: ClassVar[bool] = False
    required_packages: ClassVar[tuple[str, ...]] = ()
    approximate_codes: ClassVar[bool] = False

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    def check_environment(self) -> None:
        """Raise QuantizerUnavailable when a package is missing. Called once, before any work, by the engine's
        entry points (evaluate_variant, bucket_collision); `quantize` and `weight_codes` assume it passed."""
        missing = [name for name in self.required_packages if importlib.util.find_spec(name) is None]
        if missing:
            packages = " ".join(PIP_NAMES.get(name, name) for name in missing)
            raise QuantizerUnavailable(
                f"quantizer '{self.method}' needs the Python package(s) {', '.join(missing)}: "
                f"pip install {packages} (or pip install 'unlearn-audit[worker]')"
            )

    @abstractmethod
    def quantize(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None = None,
    ) -> PreTrainedModel:
        """A new quantized model ready for generate()/forward; `model` itself is left untouched."""

    @abstractmethod
    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        """The codes this method gives a 2-D weight matrix [out_features, in_features]."""


def is_output_head(module_name: str) -> bool:
    return module_name.rsplit(".", 1)[-1] in OUTPUT_HEAD_NAMES


def quantizable_linear_names(model: nn.Module) -> list[str]:
    """Every nn.Linear except the output head (embeddings are not Linear, so they stay too)."""
    return [
        name for name, module in model.named_modules() if isinstance(module, nn.Linear) and not is_output_head(name)
    ]


def is_quantized_weight(tensor_name: str, shape: Sequence[int]) -> bool:
    """The same rule on checkpoint tensor names: 2-D `*.weight` tensors outside embeddings and the head."""
    if len(shape) != 2 or not tensor_name.endswith(".weight"):
        return False
    module_name = tensor_name.removesuffix(".weight")
    last = module_name.rsplit(".", 1)[-1]
    return not is_output_head(module_name) and "embed" not in last and last not in EMBEDDING_NAMES
