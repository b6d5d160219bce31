"""The registry covers every precision method, and environment checks say what to install."""

import importlib.util

import pytest

from service.specs.precision import PRECISION_METHODS, BnbNF4Precision, GPTQPrecision, RTNPrecision
from worker.engine.quantizers import QUANTIZERS, QuantizerUnavailable, get_quantizer
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
