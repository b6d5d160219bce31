"""Identical quantized models are evaluated once: a bucket-constrained copy of the target at RTN 4-bit g64 is
proved identical by its digest and takes the target's results; a model one code away is evaluated."""

import pytest

from service.specs.audit import AuditSpec
from service.specs.precision import GPTQPrecision
from tests.identical_models import RTN4_G64
from worker.engine.collision import bucket_collision, state_digest
from worker.engine.identity import StateHasher
from worker.engine.models import load_model
from worker.engine.runner import run_audit
from worker.engine.variant import evaluate_variant


@pytest.fixture
def copies(identical_copies):
    return identical_copies


def test_the_digest_proves_a_bucket_constrained_copy_identical_and_one_code_differs(tiny_target_dir, copies):
    target = state_digest(tiny_target_dir, RTN4_G64)
    assert target is not None and len(target) == 64
    assert state_digest(copies["bucket"], RTN4_G64) == target
    assert state_digest(copies["moved"], RTN4_G64) not in (None, target)
    collision = bucket_collision(tiny_target_dir, copies["moved"], RTN4_G64)
    assert collision.overall == 1 - 1 / collision.n_weights  # one code away, no more
    assert (collision.target_digest, collision.digest) == (target, state_digest(copies["moved"], RTN4_G64))
    assert state_digest(tiny_target_dir, GPTQPrecision()) is None  # calibrated codes prove nothing


def test_identical_variants_are_not_evaluated_again_and_equal_fresh_results(
    tiny_target_dir, tiny_bundle, copies, tmp_path
):
    spec = AuditSpec.model_validate(
        {
            "target": {"model": str(tiny_target_dir)},
            "unlearned": [{"name": name, "model": str(folder)} for name, folder in copies.items()],
            "corpus": tiny_bundle.to_document(),
            "precisions": [{"method": "full"}, RTN4_G64.model_dump()],
            "metrics": ["verbmem_f", "privleak", "collision"],
            "limits": {"max_items": 3, "bootstrap_samples": 20},
        }
    )
    report = run_audit(spec, tiny_bundle, tmp_path)
    variants = {(v.model, v.precision_label): v for v in report.variants}
    label = RTN4_G64.label
    copied, target = variants[("bucket", label)], variants[("target", label)]
    assert copied.identical_to == "target" and copied.timings == {}
    assert copied.state_digest == target.state_digest == copied.collision.target_digest
    assert copied.metrics == target.metrics
    assert variants[("bucket", "full")].identical_to is None  # different weights at full precision
    assert variants[("moved", label)].identical_to is None and variants[("moved", label)].timings
    assert variants[("moved_twin", label)].identical_to == "moved"  # across unlearned models too
    items = [i for i in report.items if i.precision_label == label]
    assert [i.model_copy(update={"model": "target"}) for i in items if i.model == "bucket"] == [
        i for i in items if i.model == "target"
    ]
    fresh = evaluate_variant(load_model("bucket", str(copies["bucket"])), RTN4_G64, spec, tiny_bundle)
    assert fresh.variant.metrics == copied.metrics
    assert [i.model_dump() for i in fresh.items] == [i.model_dump() for i in items if i.model == "bucket"]


def test_a_known_target_digest_is_reported_without_hashing_the_target_again(tiny_target_dir, copies, monkeypatch):
    first = bucket_collision(tiny_target_dir, copies["moved"], RTN4_G64)
    started = []
    original = StateHasher.__init__

    def counted(self, *args, **kwargs):
        started.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(StateHasher, "__init__", counted)
    again = bucket_collision(tiny_target_dir, copies["moved"], RTN4_G64, target_digest=first.target_digest)
    assert (again.target_digest, again.digest) == (first.target_digest, first.digest) and len(started) == 1
