import pytest

from service.specs.audit import AuditSpec
from service.specs.report import VariantResult
from worker.engine.summary import summarize

SPEC = AuditSpec.model_validate(
    {
        "target": {"model": "org/target"},
        "unlearned": [{"name": "npo", "model": "org/npo"}, {"name": "sure", "model": "org/sure"}],
        "corpus": "c",
        "precisions": [
            {"method": "full"},
            {"method": "rtn", "bits": 8, "group_size": None},
            {"method": "rtn", "bits": 4},
        ],
        "metrics": ["verbmem_f", "knowmem_f", "knowmem_r"],
        "policy": {"max_retained": 0.5, "max_recovery": 0.25, "min_utility": 0.8},
    }
)
LABELS = SPEC.precision_labels  # full, rtn-w8-pc-asym, rtn-w4-g128-asym


def variant(model, label, verbmem, knowmem, utility):
    return VariantResult(
        model=model,
        precision={},
        precision_label=label,
        metrics={"verbmem_f": verbmem, "knowmem_f": knowmem, "knowmem_r": utility},
    )


def variants():
    return [
        variant("target", LABELS[0], 0.80, 0.60, 0.50),
        variant("target", LABELS[1], 0.80, 0.60, 0.50),
        variant("target", LABELS[2], 0.70, 0.00, 0.45),
        # the paper's failure: forgets at full and 8-bit, recovers at 4-bit
        variant("npo", LABELS[0], 0.16, 0.12, 0.48),
        variant("npo", LABELS[1], 0.16, 0.12, 0.48),
        variant("npo", LABELS[2], 0.56, 0.10, 0.44),
        # truly forgets but destroys utility at 4-bit
        variant("sure", LABELS[0], 0.08, 0.06, 0.45),
        variant("sure", LABELS[1], 0.08, 0.06, 0.45),
        variant("sure", LABELS[2], 0.07, 0.05, 0.20),
    ]


def test_retained_share_and_recovery_follow_the_design_formulas():
    summary = summarize(SPEC, variants(), {})
    assert summary.retained["npo"][LABELS[0]]["verbmem_f"] == pytest.approx(0.16 / 0.80)
    assert summary.retained["npo"][LABELS[2]]["verbmem_f"] == pytest.approx(0.56 / 0.70)
    assert summary.recovery["npo"][LABELS[2]]["verbmem_f"] == pytest.approx(0.56 / 0.70 - 0.16 / 0.80)
    assert summary.recovery["npo"][LABELS[0]]["verbmem_f"] == pytest.approx(0.0)


def test_retained_is_undefined_with_a_reason_where_the_target_shows_nothing():
    summary = summarize(SPEC, variants(), {})
    assert summary.retained["npo"][LABELS[2]]["knowmem_f"] is None
    assert summary.recovery["npo"][LABELS[2]]["knowmem_f"] is None
    assert "the target shows nothing" in summary.undefined["npo"][LABELS[2]]["knowmem_f"]


def test_verdicts_per_model_and_precision_and_overall():
    summary = summarize(SPEC, variants(), {})
    assert summary.verdicts["npo"] == {LABELS[0]: "pass", LABELS[1]: "pass", LABELS[2]: "fail"}
    assert summary.verdicts["sure"] == {LABELS[0]: "pass", LABELS[1]: "pass", LABELS[2]: "utility_lost"}
    assert summary.verdict == "fail"
    assert any("npo at rtn-w4-g128-asym: verbmem_f retains 0.80" in r for r in summary.reasons)
    assert any("recovers +0.60" in r for r in summary.reasons)
    assert any("sure at rtn-w4-g128-asym: knowmem_r 0.20 < min_utility 0.80" in r for r in summary.reasons)


def test_utility_lost_is_the_overall_verdict_when_nothing_fails():
    kept = [v for v in variants() if v.model != "npo"]
    spec = SPEC.model_copy(update={"unlearned": [SPEC.unlearned[1]]})
    assert summarize(spec, kept, {}).verdict == "utility_lost"


def test_no_verdict_without_any_knowledge_metric():
    skipped = {"verbmem_f": "no verbmem/forget", "knowmem_f": "no knowmem/forget_qa"}
    summary = summarize(SPEC, variants(), skipped)
    assert summary.verdict is None
    assert summary.verdicts == {}
    assert summary.skipped_metrics == skipped
    assert "no verdict" in summary.reasons[0]


def test_a_missing_variant_leaves_its_share_undefined():
    partial = [v for v in variants() if not (v.model == "npo" and v.precision_label == LABELS[2])]
    summary = summarize(SPEC, partial, {})
    assert summary.retained["npo"][LABELS[2]]["verbmem_f"] is None
    assert "npo has no verbmem_f result" in summary.undefined["npo"][LABELS[2]]["verbmem_f"]
    assert LABELS[2] not in summary.verdicts["npo"]
