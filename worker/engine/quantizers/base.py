"""The quantizer interface: one class per method (DESIGN 10), each with its capability flags.

A quantizer builds a NEW quantized model from a model kept in memory (the engine builds every precision
from one loaded model), and reads back the quantized code of any weight matrix (for bucket collision,
DESIGN 8.6).

The quantized layers are the model's linear layers except the output head: nn.Linear and transformers'
Conv1D (GPT-2 and its family), a linear layer whose weight is stored transposed, [in_features,
out_features]. Every quantizer quantizes exactly these (bucket collision counts the same ones) and reports
what it quantized; one that would leave any of them in full precision raises IncompleteQuantization
rather than letting a full-precision model pass for a quantized one.
"""

import copy
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Generic, NamedTuple, TypeVar

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.pytorch_utils import Conv1D

from service.specs.architectures import architecture_refusal
from service.specs.precision import PrecisionConfig
from service.specs.report import QuantizedWeights

if TYPE_CHECKING:  # numba is imported only when a kernel is asked for
    from worker.engine.quantizers.scan_kernels import ScanKernel

OUTPUT_HEAD_NAMES = ("lm_head", "embed_out", "output")
"""Output projections that stay in full precision (transformers' quantizers skip them too)."""

ConfigT = TypeVar("ConfigT", bound=PrecisionConfig)

PIP_NAMES = {"bitsandbytes": "bitsandbytes", "llmcompressor": "llmcompressor"}


class QuantizerUnavailable(RuntimeError):
    """This machine cannot run the quantizer; the message says what is missing and how to fix it."""


class UnsupportedArchitecture(ValueError):
    """A quantizer refuses a model architecture (service.specs.architectures); the message says why."""


class IncompleteQuantization(ValueError):
    """A quantizer that would leave linear layers in full precision; the message names the precision and why."""


class QuantizedModel(NamedTuple):
    model: PreTrainedModel
    quantized: QuantizedWeights | None  # what was quantized; None at full precision


@dataclass
class WeightCodes:
    """The quantized form of one weight matrix, every tensor with the weight's shape except `scales`.

    `bucket_width` and `dequantized` are computed on first use: bucket collision reads codes and scales of
    both models but bucket widths of the target only, and never the dequantized values.
    """

    codes: torch.Tensor  # integer code of every weight
    scales: torch.Tensor  # the step/scale of each quantization group (absmax per block for bitsandbytes)
    compute_bucket_width: Callable[[], torch.Tensor] = field(repr=False)
    compute_dequantized: Callable[[], torch.Tensor] = field(repr=False)

    @cached_property
    def bucket_width(self) -> torch.Tensor:
        """Distance between the values of the neighbouring codes around each weight."""
        return self.compute_bucket_width()

    @cached_property
    def dequantized(self) -> torch.Tensor:
        """The value each weight takes after quantization."""
        return self.compute_dequantized()


class Quantizer(ABC, Generic[ConfigT]):
    """One quantization method. Subclasses set the class flags and implement `quantize_layers` and `weight_codes`."""

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

    def check_architecture(self, model_type: str) -> None:
        """Raise UnsupportedArchitecture before any work when this method cannot take `model_type`."""
        refusal = architecture_refusal(self.method, model_type)
        if refusal:
            raise UnsupportedArchitecture(f"precision {self.config.label}: {refusal}")

    def quantize(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None = None,
    ) -> QuantizedModel:
        """A new quantized model ready for generate()/forward and what was quantized; `model` is left untouched.

        Raises IncompleteQuantization when the model has no linear layer, or when the method left any of
        them in full precision.
        """
        layers = linear_layers(model)
        if not layers:
            raise IncompleteQuantization(
                f"precision {self.config.label}: the model ({type(model).__name__}) has no linear layer to quantize"
            )
        self.check_architecture(model.config.model_type)
        quantized_model, quantized_names = self.quantize_layers(model, tokenizer, calibration_texts)
        check_complete(self.config.label, layers, quantized_names)
        weights = sum(layers[name].weight.numel() for name in quantized_names)
        return QuantizedModel(quantized_model, QuantizedWeights(modules=len(quantized_names), weights=weights))

    @abstractmethod
    def quantize_layers(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        calibration_texts: Sequence[str] | None,
    ) -> tuple[PreTrainedModel, list[str]]:
        """A new quantized model and the names of the linear layers this method really quantized in it."""

    @abstractmethod
    def weight_codes(self, weight: torch.Tensor) -> WeightCodes:
        """The codes this method gives a 2-D weight matrix [out_features, in_features]."""

    def scan_kernel(self) -> "ScanKernel | None":
        """The fused CPU form of `weight_codes` (quantizers.scan_kernels) that streaming scans use, if any."""
        return None

    def rows_per_group(self, in_features: int) -> int:
        """Rows of a weight matrix that a chunk must hold a multiple of so that no quantization group is cut.

        Groups lie within a row for most methods; bitsandbytes' 4-bit blocks run over the flattened matrix.
        """
        del in_features
        return 1


def check_complete(label: str, layers: dict[str, nn.Module], quantized_names: Iterable[str]) -> None:
    """Every linear layer must have been quantized: a layer left in full precision is an error, not a pass."""
    done = set(quantized_names)
    left = [name for name in layers if name not in done]
    if left:
        kinds = sorted({type(layers[name]).__name__ for name in left})
        raise IncompleteQuantization(
            f"precision {label}: {len(left)} of {len(layers)} linear layers would stay in full precision "
            f"(e.g. '{left[0]}', of type {', '.join(kinds)}); the variant would be a full-precision run "
            "reported as quantized"
        )


def is_output_head(module_name: str) -> bool:
    return module_name.rsplit(".", 1)[-1] in OUTPUT_HEAD_NAMES


def linear_layers(model: nn.Module) -> dict[str, nn.Module]:
    """{name: module} of every linear layer (nn.Linear or Conv1D) except the output head.

    Embeddings are not linear layers, so they stay in full precision too, and so does an output head tied
    to the embedding.
    """
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, Conv1D)) and not is_output_head(name)
    }


def is_transposed(module: nn.Module) -> bool:
    """Whether a linear layer stores its weight as [in_features, out_features] (Conv1D)."""
    return isinstance(module, Conv1D)


def weight_matrix(module: nn.Module) -> torch.Tensor:
    """A linear layer's weight as [out_features, in_features]; for Conv1D a transposed view (writes go through)."""
    return module.weight.T if is_transposed(module) else module.weight


def stored_layout(module: nn.Module, matrix: torch.Tensor) -> torch.Tensor:
    """The inverse of weight_matrix: an [out_features, in_features] matrix in the layer's stored layout."""
    return matrix.T if is_transposed(module) else matrix


def as_linear(module: nn.Module) -> nn.Linear:
    """The layer as an nn.Linear computing the same function (a Conv1D gets its weight transposed, copied)."""
    if isinstance(module, nn.Linear):
        return module
    weight = weight_matrix(module).detach()
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=module.bias is not None, device="meta")
    linear.weight = nn.Parameter(weight.contiguous(), requires_grad=False)
    if module.bias is not None:
        linear.bias = nn.Parameter(module.bias.detach(), requires_grad=False)
    return linear


def copy_with(model: PreTrainedModel, replacements: Iterable[tuple[object, object]]) -> PreTrainedModel:
    """A copy of `model` in which each (old, new) pair's old module or parameter is `new`.

    Every other parameter is shared with `model`, not copied: a quantized model takes memory only for what
    its quantizer changed (evaluation never writes weights). Buffers are copied.
    """
    memo: dict[int, object] = {id(parameter): parameter for parameter in model.parameters()}
    memo.update((id(old), new) for old, new in replacements)
    copied = copy.deepcopy(model, memo)
    copied.eval()
    return copied
