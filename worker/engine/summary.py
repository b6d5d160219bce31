"""Retained share, recovery and verdicts (DESIGN 8.5): cells judged on paired intervals, composed into a
verdict per variant and overall (fail > inconclusive > utility_lost > pass; undefined when nothing is defined).
A failed variant (`error` set) gets no cells and no verdict, a `variant_failed` reason, and makes the overall
verdict at least inconclusive."""

from collections.abc import Iterable

from service.specs.audit import AuditSpec, Policy
from service.specs.metrics import KNOWLEDGE_METRICS, UTILITY_METRIC
from service.specs.report import Cell, ItemRecord, Reason, Summary, VariantResult, Verdict
from worker.engine.cells import CellInputs, knowledge_cell, utility_cell
from worker.engine.paired import FULL, PairedMetric, Variant
from worker.engine.privleak_band import privleak_reasons

SEVERITY: dict[Verdict, int] = {"undefined": 0, "pass": 1, "utility_lost": 2, "inconclusive": 3, "fail": 4}


def summarize(
    spec: AuditSpec, variants: list[VariantResult], items: Iterable[ItemRecord], skipped: dict[str, str]
) -> Summary:
    """Every unlearned model against the target, at every precision, under the spec's policy."""
    items = list(items)
    summary = Summary(skipped_metrics=dict(skipped), policy=spec.policy.model_dump())
    failed = {(v.model, v.precision_label): v for v in variants if v.error is not None}
    judged = [m for m in (*KNOWLEDGE_METRICS, UTILITY_METRIC) if m in spec.metrics and m not in skipped]
    cells = [cell for metric in judged for cell in _metric_cells(spec, variants, items, metric)]
    summary.cells = [cell for cell in cells if (cell.model, cell.precision_label) not in failed]
    _fill_maps(summary)
    by_variant = {(v.model, v.precision_label): v for v in variants}
    for model in spec.model_names[1:]:
        for label in spec.precision_labels:
            _privleak_recovery(summary, by_variant, model, label)
            if (model, label) not in failed:
                _judge_variant(summary, spec, by_variant, model, label)
    summary.reasons.extend(_failure_reason(variant) for variant in failed.values())
    # a variant that failed cannot pass: the audit as a whole is at best inconclusive
    verdicts = [v for per_model in summary.verdicts.values() for v in per_model.values()]
    verdicts += ["inconclusive" for _ in failed.values()]
    summary.verdict = worst(verdicts) if verdicts else None
    if summary.verdict is None:
        message = "no verdict: no forget-knowledge metric (verbmem_f, knowmem_f) could be measured"
        summary.reasons.append(Reason(code="no_knowledge_metric", message=message))
    return summary


def _failure_reason(variant: VariantResult) -> Reason:
    message = f"{variant.model} at {variant.precision_label}: no verdict, the variant failed: {variant.error}"
    return Reason(code="variant_failed", model=variant.model, precision_label=variant.precision_label, message=message)


def worst(verdicts: list[Verdict]) -> Verdict:
    return max(verdicts, key=SEVERITY.__getitem__)


def _metric_cells(spec: AuditSpec, variants: list[VariantResult], items: list[ItemRecord], metric: str) -> list[Cell]:
    points: dict[Variant, float | None] = {(v.model, v.precision_label): v.metrics.get(metric) for v in variants}
    policy = spec.policy
    paired = PairedMetric(metric, points, items, policy.bootstrap_samples, spec.seed, policy.confidence)
    judge = utility_cell if metric == UTILITY_METRIC else knowledge_cell
    return [
        judge(
            CellInputs(
                model=model,
                precision_label=label,
                metric=metric,
                target=paired.target(label),
                value=points.get((model, label)),
                retained=paired.retained(model, label),
                recovery=paired.recovery(model, label),
            ),
            policy,
        )
        for model in spec.model_names[1:]
        for label in spec.precision_labels
    ]


def _fill_maps(summary: Summary) -> None:
    """The point maps of schema 1.0 (retained, recovery, undefined), from the knowledge cells."""
    for cell in summary.cells:
        if cell.metric not in KNOWLEDGE_METRICS:
            continue
        defined = cell.verdict != "undefined"
        retained = cell.retained.value if defined else None
        recovery = cell.recovery.value if defined else None
        summary.retained.setdefault(cell.model, {}).setdefault(cell.precision_label, {})[cell.metric] = retained
        summary.recovery.setdefault(cell.model, {}).setdefault(cell.precision_label, {})[cell.metric] = recovery
        if not defined:
            why = "; ".join(reason.message for reason in cell.reasons)
            summary.undefined.setdefault(cell.model, {}).setdefault(cell.precision_label, {})[cell.metric] = why


def _judge_variant(
    summary: Summary, spec: AuditSpec, by_variant: dict[Variant, VariantResult], model: str, label: str
) -> None:
    cells = [c for c in summary.cells if c.model == model and c.precision_label == label]
    knowledge = [c for c in cells if c.metric in KNOWLEDGE_METRICS]
    if not knowledge:
        return
    utility = next((c for c in cells if c.metric == UTILITY_METRIC), None)
    extra = privleak_reasons(by_variant.get((model, label)), spec.policy)
    defined: list[Verdict] = [c.verdict for c in knowledge if c.verdict != "undefined"]
    privleak: list[Verdict] = ["fail" if r.code == "privleak_out_of_range" else "inconclusive" for r in extra]
    utility_outcome, utility_reasons = _utility(utility, spec, model, label)
    verdict = worst([*defined, *privleak, utility_outcome])
    if not defined and verdict != "fail":  # no forget-knowledge cell could be judged
        verdict = "undefined"
    summary.verdicts.setdefault(model, {})[label] = verdict
    summary.reasons.extend([r for c in knowledge for r in c.reasons] + extra + utility_reasons)


def _utility(utility: Cell | None, spec: AuditSpec, model: str, label: str) -> tuple[Verdict, list[Reason]]:
    """The utility outcome of a variant: its knowmem_r cell's, or `utility_not_measured` without one."""
    policy: Policy = spec.policy
    if utility is not None and utility.verdict != "undefined":
        return utility.verdict, list(utility.reasons)
    if utility is not None:
        reasons = list(utility.reasons)
    else:
        why = "not requested" if UTILITY_METRIC not in spec.metrics else "skipped (see skipped metrics)"
        message = f"{model} at {label}: utility not measured: {UTILITY_METRIC} {why}"
        reasons = [
            Reason(code="utility_not_measured", model=model, precision_label=label, metric=UTILITY_METRIC,
                   message=message)
        ]  # fmt: skip
    return ("inconclusive" if policy.require_utility else "pass"), reasons


def _privleak_recovery(summary: Summary, by_variant: dict[Variant, VariantResult], model: str, label: str) -> None:
    """PrivLeak at this precision minus at full (percent), reported per variant."""
    at_label, at_full = by_variant.get((model, label)), by_variant.get((model, FULL))
    value = at_label.metrics.get("privleak") if at_label else None
    baseline = at_full.metrics.get("privleak") if at_full else None
    if value is not None and baseline is not None:
        summary.privleak_recovery.setdefault(model, {})[label] = value - baseline
