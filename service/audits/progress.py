"""Counting an audit's runs by outcome: what its progress and its report's header say (never 100 % when runs
were cancelled or failed)."""

from service.models import Run
from service.models.states import RunStatus
from service.specs.report import RunCounts


def run_counts(runs: list[Run]) -> RunCounts:
    statuses = [run.status for run in runs]
    return RunCounts(
        done=statuses.count(RunStatus.SUCCEEDED),
        failed=statuses.count(RunStatus.FAILED),
        cancelled=statuses.count(RunStatus.CANCELLED),
        total=len(runs),
    )


def share_done(runs: list[Run]) -> float:
    """0..1 over all runs: a succeeded run counts whole, a running one its share, a failed or cancelled one 0."""
    if not runs:
        return 0.0
    shares = [
        1.0 if run.status == RunStatus.SUCCEEDED else run.share_done if run.status == RunStatus.RUNNING else 0.0
        for run in runs
    ]
    return sum(shares) / len(runs)
