"""The registry covers every precision method, and environment checks say what to install."""

import importlib.util

import pytest

from service.specs.precision import PRECISION_METHODS, BnbNF4Precision, GPTQPrecision, RTNPrecision
from worker.engine.quantizers import QUANTIZERS, QuantizerUnavailable, get_quantizer, is_quantized_weight
from worker.engine.registry import UnknownNameError


def test_every_precision_method_has_a_quantizer():
    assert sorted(QUANTIZERS.names()) == sorted(PRECISION_METHODS)
    assert get_quantizer(RTNPrecision(bits=3)).config.bits == 3


def test_unknown_method_names_the_closest_ones():
    with pytest.raises(UnknownNameError, match="did you mean gptq"):
        QUANTIZERS.get("gptqq")


def hide_package(monkeypatch, hidden: str) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == hidden else real_find_spec(name, *args)
    )


@pytest.mark.parametrize(
    ("precision", "package"), [(BnbNF4Precision(), "bitsandbytes"), (GPTQPrecision(), "llmcompressor")]
)
def test_missing_package_says_what_to_install(monkeypatch, precision, package):
    hide_package(monkeypatch, package)
    quantizer = get_quantizer(precision)
    with pytest.raises(QuantizerUnavailable, match=f"pip install {package}"):
        quantizer.check_environment()
    with pytest.raises(QuantizerUnavailable, match=precision.method):
        quantizer.quantize(None, None, ["text"])


def test_rtn_needs_no_extra_package(monkeypatch):
    hide_package(monkeypatch, "bitsandbytes")
    get_quantizer(RTNPrecision()).check_environment()


@pytest.mark.parametrize(
    ("name", "shape", "quantized"),
    [
        ("model.layers.0.self_attn.q_proj.weight", (64, 64), True),
        ("model.layers.0.mlp.down_proj.weight", (64, 128), True),
        ("model.layers.0.self_attn.q_proj.bias", (64,), False),
        ("model.layers.0.input_layernorm.weight", (64,), False),
        ("model.embed_tokens.weight", (400, 64), False),
        ("transformer.wte.weight", (400, 64), False),
        ("lm_head.weight", (400, 64), False),
    ],
)
def test_which_checkpoint_tensors_are_quantized(name, shape, quantized):
    assert is_quantized_weight(name, shape) is quantized
