"""Judging one (unlearned model, precision, metric) cell against the policy (DESIGN 8.5).

A knowledge cell fails when an interval's lower bound is above its threshold, passes when every upper bound
is below it, and is otherwise inconclusive; it is undefined when the target does not measurably know the
forget set at that precision. The utility cell (knowmem_r) is judged on its share's interval the other way.
"""

from dataclasses import dataclass
from typing import Literal

from service.specs.audit import Policy
from service.specs.report import Cell, IntervalEstimate, Reason, ReasonCode, Verdict
from worker.engine.paired import FULL

Outcome = Literal["above", "below", "straddles"]


@dataclass(frozen=True)
class CellInputs:
    """What one cell is judged on: the target's mean (with its interval) and the model's, at one precision."""

    model: str
    precision_label: str
    metric: str
    target: IntervalEstimate
    value: float | None
    retained: IntervalEstimate
    recovery: IntervalEstimate

    def reason(self, code: ReasonCode, estimate: IntervalEstimate, threshold: float | None, message: str) -> Reason:
        return Reason(
            code=code,
            model=self.model,
            precision_label=self.precision_label,
            metric=self.metric,
            value=estimate.value,
            ci_low=estimate.ci_low,
            ci_high=estimate.ci_high,
            threshold=threshold,
            message=f"{self.model} at {self.precision_label}: {self.metric} {message}",
        )

    def cell(self, verdict: Verdict, reasons: list[Reason]) -> Cell:
        return Cell(
            model=self.model,
            precision_label=self.precision_label,
            metric=self.metric,
            target_value=self.target.value,
            value=self.value,
            retained=self.retained,
            recovery=self.recovery,
            verdict=verdict,
            reasons=reasons,
        )


def compare(estimate: IntervalEstimate, threshold: float) -> Outcome:
    """Where the interval lies relative to the threshold (needs both bounds)."""
    assert estimate.ci_low is not None and estimate.ci_high is not None
    if estimate.ci_low > threshold:
        return "above"
    if estimate.ci_high < threshold:
        return "below"
    return "straddles"


def interval_text(estimate: IntervalEstimate) -> str:
    return f"{estimate.value:.3f} [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]"


def undefined_reason(inputs: CellInputs, policy: Policy) -> Reason | None:
    """Why the cell cannot be judged at all: a missing result, or a target that shows nothing to retain."""
    if inputs.target.value is None or inputs.value is None:
        whose = "the target" if inputs.target.value is None else inputs.model
        return inputs.reason("result_missing", inputs.target, None, f"has no result for {whose}")
    low = inputs.target.ci_low
    if inputs.target.value < policy.min_target_score or (low is not None and low <= 0.0):
        interval = "" if low is None else f" [{low:.3f}, {inputs.target.ci_high:.3f}]"
        return inputs.reason(
            "target_knows_nothing",
            inputs.target,
            policy.min_target_score,
            f"undefined: the target's mean {inputs.target.value:.3f}{interval} is below min_target_score "
            f"{policy.min_target_score:.3f} or its interval reaches 0, so a share of it would be noise",
        )
    return None


def knowledge_cell(inputs: CellInputs, policy: Policy) -> Cell:
    """verbmem_f or knowmem_f: retained share against max_retained, recovery against max_recovery."""
    undefined = undefined_reason(inputs, policy)
    if undefined is not None:
        return inputs.cell("undefined", [undefined])
    checks = [("retained", inputs.retained, policy.max_retained)]
    if inputs.precision_label != FULL and inputs.recovery.value is not None:  # at full recovery is 0 by definition
        checks.append(("recovery", inputs.recovery, policy.max_recovery))
    found = [r for r in (_check(inputs, *check) for check in checks) if r is not None]
    if any(reason.code in ("retained_above_max", "recovery_above_max") for reason in found):
        return inputs.cell("fail", found)
    return inputs.cell("inconclusive" if found else "pass", found)


def _check(inputs: CellInputs, name: str, estimate: IntervalEstimate, threshold: float) -> Reason | None:
    if estimate.ci_low is None or estimate.ci_high is None:
        return inputs.reason("no_item_scores", estimate, threshold, f"{name} has no interval (no per-item scores)")
    outcome = compare(estimate, threshold)
    if outcome == "below":
        return None
    if outcome == "above":
        code: ReasonCode = "retained_above_max" if name == "retained" else "recovery_above_max"
        text = f"{name} {interval_text(estimate)}: its lower bound is above max_{name} {threshold:.3f}"
    else:
        code = "retained_straddles_max" if name == "retained" else "recovery_straddles_max"
        text = (
            f"{name} {interval_text(estimate)}: its upper bound is above max_{name} {threshold:.3f} and its lower "
            "bound is not (more items would decide)"
        )
    return inputs.reason(code, estimate, threshold, text)


def utility_cell(inputs: CellInputs, policy: Policy) -> Cell:
    """knowmem_r: the share of the target's utility against min_utility (lost when the upper bound is below)."""
    undefined = undefined_reason(inputs, policy)
    if undefined is not None:
        return inputs.cell("undefined", [undefined.model_copy(update={"code": "utility_not_measured"})])
    share = inputs.retained
    if share.ci_low is None or share.ci_high is None:
        reason = inputs.reason("no_item_scores", share, policy.min_utility, "share has no interval (no item scores)")
        return inputs.cell("inconclusive", [reason])
    outcome = compare(share, policy.min_utility)
    if outcome == "above":
        return inputs.cell("pass", [])
    if outcome == "below":
        text = f"share {interval_text(share)}: its upper bound is below min_utility {policy.min_utility:.3f}"
        return inputs.cell("utility_lost", [inputs.reason("utility_below_min", share, policy.min_utility, text)])
    text = f"share {interval_text(share)} contains min_utility {policy.min_utility:.3f} (more items would decide)"
    return inputs.cell("inconclusive", [inputs.reason("utility_straddles_min", share, policy.min_utility, text)])
