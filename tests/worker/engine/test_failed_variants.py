"""The in-process runner: a precision that cannot take the model (AWQ on GPT-2: no smoothing mappings for it) fails its
variants with the reason, and every other variant is still evaluated, measured and judged."""

import pytest

from service.specs.audit import AuditSpec
from tests.architectures import save_random_pair
from tests.tiny_world import make_bundle, training_texts
from worker.engine.runner import run_audit
from worker.engine.tiny import train_tokenizer

RTN = {"method": "rtn", "bits": 4, "group_size": 32}
AWQ = {"method": "awq", "group_size": 32, "calibration_samples": 2, "calibration_length": 32}


@pytest.mark.slow
def test_awq_on_gpt2_fails_its_variants_and_leaves_the_rest_of_the_report(tmp_path):
    bundle = make_bundle()
    target, unlearned = save_random_pair("gpt2", train_tokenizer(training_texts(bundle), vocab_size=400), tmp_path)
    spec = AuditSpec.model_validate(
        {"target": {"model": str(target)}, "unlearned": [{"name": "u", "model": str(unlearned)}],
         "corpus": bundle.to_document(), "precisions": [RTN, AWQ], "metrics": ["verbmem_f", "collision"],
         "limits": {"max_items": 2, "batch_size": 2}, "policy": {"bootstrap_samples": 100}, "cache": False}
    )  # fmt: skip
    report = run_audit(spec, bundle, tmp_path / "work")
    errors = {(v.model, v.precision_label): v.error for v in report.variants}
    awq = next(label for label in spec.precision_labels if label.startswith("awq"))
    refusal = f"UnsupportedArchitecture: precision {awq}: awq cannot quantize model type 'gpt2'"
    assert errors[("target", awq)].startswith(refusal)
    assert errors[("u", awq)].startswith(f"collision: {refusal}")  # its collision failed first: not evaluated
    measured = [key for key, error in errors.items() if error is None]
    assert sorted(measured) == sorted((m, p) for m in ("target", "u") for p in ("full", "rtn-w4-g32-asym"))
    assert all(report.variant(*key).metrics["verbmem_f"] is not None for key in measured)
    assert report.variant("u", "rtn-w4-g32-asym").collision.n_weights > 0
    assert set(report.summary.verdicts["u"]) == {"full", "rtn-w4-g32-asym"}
    failures = [(r.model, r.precision_label) for r in report.summary.reasons if r.code == "variant_failed"]
    assert sorted(failures) == [("target", awq), ("u", awq)]
    assert report.summary.verdict != "pass"
