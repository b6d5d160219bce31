"""Retained share, recovery and verdicts (DESIGN 8.5), from the variants' metric values."""

from service.specs.audit import AuditSpec, Policy
from service.specs.metrics import KNOWLEDGE_METRICS, UTILITY_METRIC
from service.specs.naming import TARGET_NAME
from service.specs.report import Summary, VariantResult, Verdict

FULL = "full"
SEVERITY: dict[Verdict, int] = {"pass": 0, "utility_lost": 1, "fail": 2}

MetricTable = dict[str, dict[str, dict[str, float | None]]]  # model -> precision label -> metric -> value


def metric_table(variants: list[VariantResult]) -> MetricTable:
    table: MetricTable = {}
    for variant in variants:
        table.setdefault(variant.model, {})[variant.precision_label] = dict(variant.metrics)
    return table


def summarize(spec: AuditSpec, variants: list[VariantResult], skipped: dict[str, str]) -> Summary:
    """Every unlearned model against the target, at every precision, under the spec's policy."""
    table = metric_table(variants)
    knowledge: list[str] = [m for m in KNOWLEDGE_METRICS if m in spec.metrics and m not in skipped]
    summary = Summary(skipped_metrics=dict(skipped), policy=spec.policy.model_dump())
    for model in spec.model_names[1:]:
        for label in spec.precision_labels:
            _retained_and_recovery(summary, table, model, label, knowledge)
    for model in spec.model_names[1:]:
        for label in spec.precision_labels:
            _verdict(summary, table, spec.policy, model, label)
    summary.verdict = _worst([v for per_model in summary.verdicts.values() for v in per_model.values()])
    if summary.verdict is None:
        summary.reasons.append("no verdict: no forget-knowledge metric (verbmem_f, knowmem_f) could be measured")
    return summary


def _worst(verdicts: list[Verdict]) -> Verdict | None:
    if not verdicts:
        return None
    worst: Verdict = max(verdicts, key=SEVERITY.__getitem__)
    return worst


def _value(table: MetricTable, model: str, label: str, metric: str) -> float | None:
    return table.get(model, {}).get(label, {}).get(metric)


def _retained_and_recovery(summary: Summary, table: MetricTable, model: str, label: str, knowledge: list[str]) -> None:
    retained = summary.retained.setdefault(model, {}).setdefault(label, {})
    recovery = summary.recovery.setdefault(model, {}).setdefault(label, {})
    for metric in knowledge:
        share, reason = retained_share(table, model, label, metric)
        retained[metric] = share
        if reason:
            summary.undefined.setdefault(model, {}).setdefault(label, {})[metric] = reason
        baseline, _ = retained_share(table, model, FULL, metric)
        recovery[metric] = None if share is None or baseline is None else share - baseline


def retained_share(table: MetricTable, model: str, label: str, metric: str) -> tuple[float | None, str | None]:
    """m(model, p) / m(target, p), or None with the reason it is undefined."""
    target_value = _value(table, TARGET_NAME, label, metric)
    model_value = _value(table, model, label, metric)
    if target_value is None:
        return None, f"the target has no {metric} result at {label}"
    if model_value is None:
        return None, f"{model} has no {metric} result at {label}"
    if target_value <= 0.0:
        return None, f"the target shows nothing at {label} ({metric} = 0): no knowledge to retain"
    return model_value / target_value, None


def _verdict(summary: Summary, table: MetricTable, policy: Policy, model: str, label: str) -> None:
    retained = summary.retained.get(model, {}).get(label, {})
    recovery = summary.recovery.get(model, {}).get(label, {})
    if not any(share is not None for share in retained.values()):
        return
    failures = [
        f"{model} at {label}: {metric} retains {share:.2f} of the target's > max_retained {policy.max_retained:.2f}"
        for metric, share in retained.items()
        if share is not None and share > policy.max_retained
    ] + [
        f"{model} at {label}: {metric} recovers {gain:+.2f} over full precision > max_recovery "
        f"{policy.max_recovery:.2f}"
        for metric, gain in recovery.items()
        if gain is not None and gain > policy.max_recovery
    ]
    utility_note = _utility_lost(table, policy, model, label)
    verdict: Verdict = "fail" if failures else "utility_lost" if utility_note else "pass"
    summary.verdicts.setdefault(model, {})[label] = verdict
    summary.reasons.extend(failures)
    if utility_note:
        summary.reasons.append(utility_note)


def _utility_lost(table: MetricTable, policy: Policy, model: str, label: str) -> str | None:
    utility = _value(table, model, label, UTILITY_METRIC)
    target_utility = _value(table, TARGET_NAME, label, UTILITY_METRIC)
    if utility is None or target_utility is None or target_utility <= 0.0:
        return None
    if utility < policy.min_utility * target_utility:
        return (
            f"{model} at {label}: {UTILITY_METRIC} {utility:.2f} < min_utility {policy.min_utility:.2f} x "
            f"the target's {target_utility:.2f}"
        )
    return None
