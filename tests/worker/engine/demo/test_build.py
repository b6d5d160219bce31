"""The demo's build cache: a second run reuses every stage; a changed stage rebuilds only what follows it."""

from dataclasses import replace

import pytest

from service.specs.audit import AuditSpec
from worker.engine.demo import DemoConfig, demo_spec, prepare_demo
from worker.engine.unlearning.saving import read_record


@pytest.fixture(scope="module")
def quick_config() -> DemoConfig:
    fast = DemoConfig.fast()
    recipe = {"name": "npo_klr", "method": "npo_klr", "lr": 1e-3, "batch_size": 4, "max_steps": 1, "chunk_length": 64}
    return replace(fast, pretrain_steps=2, finetune_steps=2, unlearning=(recipe,))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-cache")


@pytest.mark.slow
def test_second_run_is_cached_and_a_finetune_change_reuses_the_base(cache, quick_config):
    first = prepare_demo(cache, quick_config)
    assert not first.cached and set(first.timings) == {"bundle", "base", "target", "unlearned-npo_klr"}
    second = prepare_demo(cache, quick_config)
    assert second.cached and second.timings == {}
    assert (second.target_dir, second.unlearned) == (first.target_dir, first.unlearned)
    changed = prepare_demo(cache, replace(quick_config, finetune_steps=3))
    assert set(changed.timings) == {"target", "unlearned-npo_klr"} and changed.target_dir != first.target_dir
    record = read_record(first.unlearned["npo_klr"])
    assert record.method == "npo_klr" and record.steps == 1


@pytest.mark.slow
def test_demo_spec_is_a_valid_audit_spec(cache, quick_config):
    assets = prepare_demo(cache, quick_config)  # reused from the test above when it ran first
    spec = AuditSpec.model_validate(demo_spec(assets))
    assert spec.model_names == ["target", "npo_klr"]
    assert spec.precision_labels == [
        "full", "rtn-w8-pc-asym", "rtn-w4-g64-asym", "rtn-w4-g128-asym", "rtn-w4-pc-asym", "bnb-nf4-b64",
        "bnb-fp4-b64",
    ]  # fmt: skip
