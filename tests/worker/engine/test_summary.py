"""Verdicts on paired intervals (DESIGN 8.5): fail, pass, inconclusive, undefined, utility and PrivLeak."""

import pytest

from service.specs.audit import AuditSpec
from service.specs.report import ItemRecord, MetricResult, Summary, VariantResult
from worker.engine.summary import summarize

FULL, Q = "full", "rtn-w4-g128-asym"
BASE = [0.9, 0.7, 0.8, 0.6, 0.75, 0.85, 0.65, 0.7, 0.8, 0.7] * 2  # twenty forget items the target knows


def make_spec(metrics=("verbmem_f", "knowmem_r"), **policy):
    return AuditSpec.model_validate(
        {
            "target": {"model": "org/target"},
            "unlearned": [{"name": "npo", "model": "org/npo"}],
            "corpus": "c",
            "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4}],
            "metrics": list(metrics),
            "policy": {"max_retained": 0.5, "max_recovery": 0.25, "min_utility": 0.8, **policy},
        }
    )


def world(scores: dict[tuple[str, str], dict[str, list[float]]]) -> tuple[list[VariantResult], list[ItemRecord]]:
    """Variants whose values are the means of their item scores, and those items."""
    variants, items = [], []
    for (model, label), by_metric in scores.items():
        metrics = {metric: sum(values) / len(values) for metric, values in by_metric.items()}
        variants.append(VariantResult(model=model, precision={}, precision_label=label, metrics=metrics))
        items += [
            ItemRecord(model=model, precision_label=label, metric=metric, index=i, score=score)
            for metric, values in by_metric.items()
            for i, score in enumerate(values)
        ]
    return variants, items


def scaled(factor: float, values=BASE) -> list[float]:
    return [factor * v for v in values]


def paper_failure(utility_factor: float = 0.95) -> dict:
    """Forgets at full precision, recovers at 4-bit; keeps its utility."""
    return {
        ("target", FULL): {"verbmem_f": BASE, "knowmem_r": BASE},
        ("target", Q): {"verbmem_f": BASE, "knowmem_r": BASE},
        ("npo", FULL): {"verbmem_f": scaled(0.1), "knowmem_r": scaled(utility_factor)},
        ("npo", Q): {"verbmem_f": scaled(0.8), "knowmem_r": scaled(utility_factor)},
    }


def cell(summary: Summary, label: str, metric: str = "verbmem_f"):
    return next(c for c in summary.cells if c.precision_label == label and c.metric == metric)


def test_the_paper_failure_fails_on_the_lower_bounds_and_full_precision_passes():
    summary = summarize(make_spec(), *world(paper_failure()), {})
    assert summary.verdicts["npo"] == {FULL: "pass", Q: "fail"}
    assert summary.verdict == "fail"
    recovered = cell(summary, Q)
    assert recovered.retained.value == pytest.approx(0.8)
    assert recovered.recovery.value == pytest.approx(0.7)
    assert recovered.recovery.ci_low > 0.25
    assert {r.code for r in recovered.reasons} == {"retained_above_max", "recovery_above_max"}
    reason = next(r for r in summary.reasons if r.code == "recovery_above_max")
    assert (reason.model, reason.precision_label, reason.metric, reason.threshold) == ("npo", Q, "verbmem_f", 0.25)
    assert reason.ci_low == recovered.recovery.ci_low
    assert summary.retained["npo"][Q]["verbmem_f"] == pytest.approx(0.8)  # the point maps of schema 1.0 stay


def test_a_target_that_knows_nothing_gives_undefined_never_fail():
    noise = [0.0] * 18 + [0.05, 0.04]  # the target's mean 0.0045: its interval reaches 0
    scores = paper_failure()
    scores[("target", Q)] = {"verbmem_f": noise, "knowmem_r": BASE}
    scores[("npo", Q)] = {"verbmem_f": [0.0] * 17 + [0.05, 0.1, 0.15], "knowmem_r": BASE}  # "326 % retained"
    summary = summarize(make_spec(), *world(scores), {})
    undefined = cell(summary, Q)
    assert undefined.verdict == "undefined"
    assert [r.code for r in undefined.reasons] == ["target_knows_nothing"]
    assert summary.verdicts["npo"][Q] == "undefined"
    assert summary.verdict == "pass"  # full precision passes; the undefined variant never fails
    assert summary.retained["npo"][Q]["verbmem_f"] is None
    assert "min_target_score" in summary.undefined["npo"][Q]["verbmem_f"]


def test_a_mean_below_min_target_score_is_undefined_even_with_an_interval_above_zero():
    scores = paper_failure()
    scores[("target", Q)] = {"verbmem_f": [0.03] * 20, "knowmem_r": BASE}
    summary = summarize(make_spec(), *world(scores), {})
    assert cell(summary, Q).verdict == "undefined"
    summary = summarize(make_spec(min_target_score=0.01), *world(scores), {})
    assert cell(summary, Q).verdict == "fail"


def test_an_interval_that_straddles_the_threshold_is_inconclusive_naming_the_bound():
    scores = paper_failure()
    scores[("npo", FULL)] = {"verbmem_f": [0.0, 0.9] * 10, "knowmem_r": BASE}  # retained 0.45/0.75, very noisy
    scores[("npo", Q)] = {"verbmem_f": [0.0, 0.9] * 10, "knowmem_r": BASE}
    summary = summarize(make_spec(), *world(scores), {})
    straddling = cell(summary, FULL)
    assert straddling.retained.ci_low < 0.5 < straddling.retained.ci_high
    assert straddling.verdict == "inconclusive"
    reason = straddling.reasons[0]
    assert reason.code == "retained_straddles_max" and "upper bound is above max_retained" in reason.message
    assert summary.verdict == "inconclusive"


def test_missing_knowmem_r_makes_a_would_be_pass_inconclusive():
    scores = {key: {"verbmem_f": values["verbmem_f"]} for key, values in paper_failure().items()}
    spec = make_spec(metrics=("verbmem_f",))
    summary = summarize(spec, *world(scores), {})
    assert summary.verdicts["npo"] == {FULL: "inconclusive", Q: "fail"}
    codes = [r.code for r in summary.reasons if r.precision_label == FULL]
    assert codes == ["utility_not_measured"]
    relaxed = summarize(make_spec(metrics=("verbmem_f",), require_utility=False), *world(scores), {})
    assert relaxed.verdicts["npo"][FULL] == "pass"
    assert any(r.code == "utility_not_measured" for r in relaxed.reasons)  # still said


def test_utility_is_judged_on_the_interval_of_its_share():
    lost = summarize(make_spec(), *world(paper_failure(utility_factor=0.5)), {})
    assert lost.verdicts["npo"][FULL] == "utility_lost"
    assert cell(lost, FULL, "knowmem_r").reasons[0].code == "utility_below_min"
    unclear = paper_failure()
    unclear[("npo", FULL)]["knowmem_r"] = [0.0, 1.6] * 10  # share 0.8/0.745: noisy around min_utility 0.8
    summary = summarize(make_spec(), *world(unclear), {})
    assert summary.verdicts["npo"][FULL] == "inconclusive"
    assert cell(summary, FULL, "knowmem_r").reasons[0].code == "utility_straddles_min"


def test_overall_is_fail_over_inconclusive_over_utility_lost_over_pass():
    scores = paper_failure(utility_factor=0.5)
    summary = summarize(make_spec(), *world(scores), {})
    assert summary.verdicts["npo"] == {FULL: "utility_lost", Q: "fail"}
    assert summary.verdict == "fail"
    scores[("npo", Q)]["verbmem_f"] = scaled(0.1)
    scores[("npo", FULL)]["knowmem_r"] = scaled(0.95)
    assert summarize(make_spec(), *world(scores), {}).verdict == "utility_lost"


def test_privleak_recovery_is_reported_and_an_optional_band_fails_a_variant():
    variants, items = world(paper_failure())
    for variant, privleak in zip(variants, (-40.0, -35.0, -5.0, -60.0), strict=True):
        variant.metrics["privleak"] = privleak
        variant.metric_details["privleak"] = MetricResult(
            value=privleak, ci_low=privleak - 3, ci_high=privleak + 3, unit="percent", direction=""
        )
    spec = make_spec(metrics=("verbmem_f", "knowmem_r", "privleak"))
    summary = summarize(spec, variants, items, {})
    assert summary.privleak_recovery["npo"] == {FULL: 0.0, Q: pytest.approx(-55.0)}
    assert summary.verdicts["npo"][FULL] == "pass"  # report only by default
    banded = summarize(spec.model_copy(update={"policy": spec.policy.model_copy(update={"max_privleak_abs": 6})}),
                       variants, items, {})  # fmt: skip
    assert banded.verdicts["npo"][FULL] == "inconclusive"  # [-8, -2] crosses -6
    assert [r.code for r in banded.reasons if r.metric == "privleak"] == [
        "privleak_straddles_range", "privleak_out_of_range"
    ]  # fmt: skip


def test_no_verdict_without_any_knowledge_metric():
    skipped = {"verbmem_f": "no verbmem/forget"}
    summary = summarize(make_spec(), *world(paper_failure()), skipped)
    assert summary.verdict is None and summary.verdicts == {}
    assert summary.reasons[-1].code == "no_knowledge_metric"


def test_a_missing_variant_leaves_its_cell_undefined():
    scores = paper_failure()
    del scores[("npo", Q)]
    summary = summarize(make_spec(), *world(scores), {})
    assert cell(summary, Q).reasons[0].code == "result_missing"
    assert summary.verdicts["npo"][Q] == "undefined"


def test_summaries_stored_before_schema_2_keep_their_sentences():
    summary = Summary.model_validate({"reasons": ["npo at full: verbmem_f retains 0.80"], "verdict": "fail"})
    assert summary.reasons[0].code == "note" and summary.reasons[0].message.startswith("npo at full")


def test_a_failed_variant_has_no_verdict_and_keeps_the_audit_from_passing():
    scores = paper_failure()
    del scores[("npo", Q)]
    variants, items = world(scores)
    failed = VariantResult.failed("npo", {}, Q, "UnsupportedArchitecture: no")
    summary = summarize(make_spec(), [*variants, failed], items, {})
    assert summary.verdicts == {"npo": {FULL: "pass"}} and summary.verdict == "inconclusive"
    assert not [c for c in summary.cells if c.precision_label == Q]
    assert [(r.code, r.model, r.precision_label) for r in summary.reasons if r.code == "variant_failed"] == [
        ("variant_failed", "npo", Q)
    ]


def test_a_failed_target_variant_leaves_that_precision_undefined_and_a_fail_elsewhere_stays():
    scores = paper_failure()
    scores[("npo", FULL)] = {"verbmem_f": scaled(0.9), "knowmem_r": BASE}  # retained at full: fails there
    del scores[("target", Q)]
    variants, items = world(scores)
    failed = VariantResult.failed("target", {}, Q, "ModelLoadError: no")
    summary = summarize(make_spec(), [*variants, failed], items, {})
    assert summary.verdicts["npo"] == {FULL: "fail", Q: "undefined"} and summary.verdict == "fail"
    assert "result_missing" in {r.code for r in cell(summary, Q).reasons}
    assert ("variant_failed", "target") in {(r.code, r.model) for r in summary.reasons}
