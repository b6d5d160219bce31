"""Which runs of an audit wait for which: the order that lets an evaluation be skipped.

A run waits for the unlearning run that makes its model. The evaluation of an unlearned model at a quantized
precision also waits for the collision run of that pair (whose digests prove whether the model's quantized
state is the target's or another unlearned model's) and for the target's evaluation at that precision (whose
results it then takes instead of evaluating again).
"""

from collections.abc import Sequence

from service.models import Run
from service.models.states import RunKind, RunStatus
from service.specs.naming import TARGET_NAME


def prerequisites(run: Run, runs: Sequence[Run]) -> list[Run]:
    """The runs of `runs` (the audit's) that must finish before `run` starts."""
    by_key = {(other.kind, other.model, other.precision_label): other for other in runs}
    needed = [by_key.get((RunKind.UNLEARN, run.model, "full"))] if run.kind != RunKind.UNLEARN else []
    collision = by_key.get((RunKind.COLLISION, run.model, run.precision_label))
    if run.kind == RunKind.EVALUATE and run.model != TARGET_NAME and collision is not None:
        needed += [collision, by_key.get((RunKind.EVALUATE, TARGET_NAME, run.precision_label))]
    return [other for other in needed if other is not None]


def is_ready(run: Run, runs: Sequence[Run]) -> bool:
    return all(other.status in RunStatus.finished() for other in prerequisites(run, runs))
