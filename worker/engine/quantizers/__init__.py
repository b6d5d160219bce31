"""The quantizer registry: one class per precision method (service.specs.precision), looked up by name.

The modules here import only torch and transformers; bitsandbytes and llm-compressor are imported inside
the methods that need them, so listing or checking quantizers never loads a heavy backend.
"""

from service.specs.precision import PRECISION_METHODS, PrecisionConfig
from worker.engine.quantizers.base import (
    IncompleteQuantization,
    QuantizedModel,
    Quantizer,
    QuantizerUnavailable,
    UnsupportedArchitecture,
    WeightCodes,
    is_transposed,
    linear_layers,
    weight_matrix,
)
from worker.engine.quantizers.bnb import BnbFP4Quantizer, BnbInt8Quantizer, BnbNF4Quantizer
from worker.engine.quantizers.calibrated import AWQQuantizer, GPTQQuantizer
from worker.engine.quantizers.full import FullQuantizer
from worker.engine.quantizers.rtn import RTNQuantizer
from worker.engine.registry import Registry

QUANTIZERS: Registry[type[Quantizer]] = Registry("quantizer")
for _quantizer in (
    FullQuantizer,
    RTNQuantizer,
    BnbInt8Quantizer,
    BnbFP4Quantizer,
    BnbNF4Quantizer,
    GPTQQuantizer,
    AWQQuantizer,
):
    QUANTIZERS.register(_quantizer.method)(_quantizer)

if set(QUANTIZERS.names()) != set(PRECISION_METHODS):
    raise ImportError(f"quantizers {QUANTIZERS.names()} do not match the precision methods {PRECISION_METHODS}")


def get_quantizer(precision: PrecisionConfig) -> Quantizer:
    """The quantizer for a precision config (unknown methods get the closest known names)."""
    return QUANTIZERS.get(precision.method)(precision)


__all__ = [
    "QUANTIZERS",
    "IncompleteQuantization",
    "QuantizedModel",
    "Quantizer",
    "QuantizerUnavailable",
    "UnsupportedArchitecture",
    "WeightCodes",
    "get_quantizer",
    "is_transposed",
    "linear_layers",
    "weight_matrix",
]
