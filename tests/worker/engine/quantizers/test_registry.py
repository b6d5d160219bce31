"""The registry covers every precision method, and environment checks say what to install before any work."""

import importlib.util

import pytest

from service.specs.audit import AuditSpec
from service.specs.precision import PRECISION_METHODS, BnbNF4Precision, GPTQPrecision, RTNPrecision
from worker.engine.collision import bucket_collision
from worker.engine.models import load_model
from worker.engine.quantizers import QUANTIZERS, QuantizerUnavailable, get_quantizer
from worker.engine.registry import UnknownNameError
from worker.engine.variant import evaluate_variant


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
def test_missing_package_says_what_to_install_before_any_work(
    monkeypatch, tmp_path, tiny_target_dir, tiny_bundle, precision, package
):
    loaded = load_model("target", str(tiny_target_dir))
    model = {"model": str(tiny_target_dir)}
    spec = AuditSpec.model_validate(
        {
            "target": model,
            "unlearned": [{"name": "u", **model}],
            "corpus": "c",
            "precisions": [{"method": "full"}, precision],
        }
    )
    hide_package(monkeypatch, package)
    with pytest.raises(QuantizerUnavailable, match=f"pip install {package}"):
        get_quantizer(precision).check_environment()
    stages = []
    with pytest.raises(QuantizerUnavailable, match=precision.method):
        evaluate_variant(loaded, precision, spec, tiny_bundle, progress=lambda *call: stages.append(call))
    assert stages == []  # refused before quantizing
    with pytest.raises(QuantizerUnavailable, match=precision.method):
        bucket_collision(tmp_path / "no-target", tmp_path / "no-unlearned", precision)  # before opening a file


def test_rtn_needs_no_extra_package(monkeypatch):
    hide_package(monkeypatch, "bitsandbytes")
    get_quantizer(RTNPrecision()).check_environment()
