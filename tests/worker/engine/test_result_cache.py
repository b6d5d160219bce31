"""The result cache: every part of the key changes it, a changed weight file changes the model's digest (an
unchanged one is not read again), and a second audit reuses the first one's variants with equal results."""

import shutil

import pytest

from service.specs.audit import AuditSpec
from service.specs.cache_key import result_key
from service.specs.precision import FullPrecision, RTNPrecision
from tests.identical_models import RTN4_G64
from worker.engine import model_digest as digests
from worker.engine.model_digest import FileDigests, model_digest
from worker.engine.result_cache import FolderCache
from worker.engine.runner import run_audit

SPEC = {"target": {"model": "t"}, "unlearned": [{"name": "u", "model": "u"}], "corpus": "c", "metrics": ["verbmem_f"]}


def key(**change):
    parts = {
        "model_digest": "sha256:aa",
        "precision": FullPrecision(),
        "corpus_sha256": "c" * 64,
        "spec": AuditSpec.model_validate(SPEC),
        "reference_auc": None,
        "engine_versions": {"unlearn-audit": "0.1.0", "torch": "2.5.0"},
    }
    return result_key(**(parts | change))


@pytest.mark.parametrize(
    "change",
    [
        {"model_digest": "sha256:ab"},
        {"precision": RTNPrecision(bits=4)},
        {"precision": RTNPrecision(bits=4, group_size=64)},
        {"corpus_sha256": "d" * 64},
        {"spec": AuditSpec.model_validate(SPEC | {"metrics": ["verbmem_f", "privleak"]})},
        {"spec": AuditSpec.model_validate(SPEC | {"limits": {"max_items": 7}})},
        {"spec": AuditSpec.model_validate(SPEC | {"seed": 1})},
        {"spec": AuditSpec.model_validate(SPEC | {"evaluation": {"dtype": "bf16"}})},
        {"spec": AuditSpec.model_validate(SPEC | {"evaluation": {"verbmem": {"decoding": "sampled"}}})},
        {"reference_auc": 0.4772},
        {"engine_versions": {"unlearn-audit": "0.1.1", "torch": "2.5.0"}},
        {"engine_versions": {"unlearn-audit": "0.1.0", "torch": "2.6.0"}},
    ],
)
def test_each_part_of_the_key_changes_it(change):
    assert key() == key()
    assert key(**change) != key()


def test_a_weight_file_is_read_once_and_a_changed_one_changes_the_digest(tiny_target_dir, tmp_path, monkeypatch):
    folder = shutil.copytree(tiny_target_dir, tmp_path / "model")
    files = FileDigests(tmp_path / "memo")
    first = model_digest(folder, None, files)
    reads = []
    monkeypatch.setattr(digests, "_file_sha256", lambda path: reads.append(path) or "x")
    assert model_digest(folder, None, FileDigests(tmp_path / "memo")) == first  # memoised on disk
    assert reads == []
    monkeypatch.undo()
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last weight
    weights.write_bytes(bytes(data))
    assert model_digest(folder, None, files) != first
    assert model_digest(folder, "0123abcd", files) == "hub:0123abcd"


def test_a_second_audit_reuses_the_first_ones_variants(tiny_target_dir, identical_copies, tiny_bundle, tmp_path):
    cache = FolderCache(tmp_path / "cache")

    def audit(names, **extra):
        spec = {
            "target": {"model": str(tiny_target_dir)},
            "unlearned": [{"name": name, "model": str(identical_copies[name])} for name in names],
            "corpus": tiny_bundle.to_document(),
            "precisions": [{"method": "full"}, RTN4_G64.model_dump()],
            "metrics": ["verbmem_f", "privleak"],
            "limits": {"max_items": 3, "bootstrap_samples": 20},
        }
        return run_audit(AuditSpec.model_validate(spec | extra), tiny_bundle, tmp_path / "work", cache=cache)

    first = audit(["moved"])
    second = audit(["moved", "bucket"])
    reused = {(v.model, v.precision_label): v for v in second.variants if v.reused_from and not v.identical_to}
    assert set(reused) == {(m, p) for m in ("target", "moved") for p in ("full", RTN4_G64.label)}
    assert {v.reused_from for v in reused.values()} == {first.provenance.audit_id}
    fresh = {(v.model, v.precision_label): v for v in first.variants}
    assert all(
        v.metrics == fresh[pair].metrics and v.metric_details == fresh[pair].metric_details
        for pair, v in reused.items()
    )
    assert [i for i in second.items if i.model != "bucket"] == first.items
    bucket = {v.precision_label: v for v in second.variants if v.model == "bucket"}
    assert bucket["full"].reused_from is None and bucket["full"].timings  # a new model: evaluated
    assert bucket[RTN4_G64.label].identical_to == "target"  # the target's results, themselves reused
    assert bucket[RTN4_G64.label].reused_from == first.provenance.audit_id
    third = audit(["moved"], cache=False)
    assert all(v.reused_from is None and v.timings for v in third.variants)
