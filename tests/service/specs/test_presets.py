"""Unlearning presets: the paper's hyperparameters by name, the entry's own fields on top."""

import pytest
from pydantic import ValidationError

from service.specs.audit import AuditSpec
from service.specs.presets import PRESETS

BASE = {"target": {"model": "org/target"}, "corpus": "c1"}


def entry(**fields):
    return AuditSpec.model_validate({**BASE, "unlearning": [{"name": "u", **fields}]}).unlearning[0]


@pytest.mark.parametrize(("preset", "epochs", "batch_size"), [("muse-news", 10, 2), ("muse-books", 1, 1)])
def test_a_preset_fills_every_hyperparameter_of_the_papers_script(preset, epochs, batch_size):
    config = entry(method="npo_klr_sure", preset=preset)
    assert (config.epochs, config.batch_size, config.gradient_accumulation) == (epochs, batch_size, 1)
    assert (config.dtype, config.chunk_length, config.bos_per_chunk) == ("bf16", 2048, True)
    assert (config.lr, config.alpha, config.beta, config.saliency_percentile) == (1e-5, 1.0, 0.1, 90.0)
    assert config.preset == preset


def test_rmu_takes_its_own_fields_from_the_preset():
    config = entry(method="rmu", preset="muse-news")
    assert (config.layer, config.steering_coeff, config.alpha, config.lr) == (31, 1.0, 1.0, 1e-5)
    assert config.trainable_layers == list(range(32))


def test_explicit_fields_override_the_preset_and_the_record_keeps_both():
    config = entry(method="ga_gdr", preset="muse-news", lr=3e-5, epochs=2, bos_per_chunk=False)
    assert (config.lr, config.epochs, config.bos_per_chunk) == (3e-5, 2, False)
    assert config.chunk_length == 2048
    dumped = config.model_dump(mode="json")
    assert dumped["preset"] == "muse-news" and dumped["lr"] == 3e-5 and dumped["dtype"] == "bf16"
    # the resolved config validates to itself: a stored spec reads back the same
    assert type(config).model_validate(dumped) == config


def test_without_a_preset_the_defaults_stay():
    config = entry(method="ga")
    assert (config.preset, config.dtype, config.chunk_length, config.bos_per_chunk) == (None, "fp32", 128, False)


def test_an_unknown_preset_is_refused_naming_the_known_ones():
    with pytest.raises(ValidationError) as error:
        entry(method="npo", preset="muse-bbc")
    [problem] = error.value.errors()
    assert problem["loc"] == ("unlearning", 0, "gradient", "preset")
    assert f"unknown preset 'muse-bbc' (known: {', '.join(sorted(PRESETS))})" in problem["msg"]


def test_a_preset_value_out_of_range_is_still_checked():
    with pytest.raises(ValidationError, match="chunk_length"):
        entry(method="ga", preset="muse-news", chunk_length=4)
