"""A run's life in the database: claim it, store its outputs in one transaction, close it, finish the audit.

Every step is idempotent, keyed by the run's row: a re-delivered message for a finished run does nothing, and
one for a run that a lost worker left half-done starts it over (its partial rows are deleted first). These
functions and service.runs.repository are where statuses change (besides a cancel through the API).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from service.audits import repository
from service.db import session_scope
from service.models import Audit, Run
from service.models.base import utc_now
from service.models.states import AuditStatus, RunKind, RunStatus
from service.queue import broker_of, enqueue_after_commit, run_message, summary_message
from service.runs import repository as run_repository
from service.webhooks import service as webhooks

MAX_ATTEMPTS = 3
OutputWriter = Callable[[Session, Run, Audit], None]
ClosingStatus = Literal[RunStatus.FAILED, RunStatus.CANCELLED]


@dataclass(frozen=True)
class Claim:
    """What a worker needs to know of the run it claimed (plain values: no session is held while it works)."""

    run_id: str
    audit_id: str
    kind: RunKind
    model: str
    precision: dict


def claim(database_url: str, run_id: str) -> Claim | None:
    """Mark the run running (once more after a lost worker), or None when there is nothing to do."""
    with session_scope(database_url) as session:
        run = run_repository.by_id(session, run_id, lock=True)
        if run is None or run.status in RunStatus.finished() or run.status == RunStatus.WAITING:
            return None
        audit = repository.audit_by_id(session, run.audit_id, lock=True)
        if audit is None:
            return None
        if audit.status == AuditStatus.CANCELLED:
            run.status, run.finished_at = RunStatus.CANCELLED, utc_now()
            return None
        if run.attempts >= MAX_ATTEMPTS:  # it took its worker down every time (memory, hard time limit)
            run.status, run.finished_at = RunStatus.FAILED, utc_now()
            run.error = f"the run was started {run.attempts} times and lost its worker each time"
            webhooks.emit(session, run)
            return None
        run.status, run.stage, run.share_done, run.error = RunStatus.RUNNING, "starting", 0.0, None
        run.attempts += 1
        run.started_at = utc_now()
        if audit.status == AuditStatus.QUEUED:
            audit.status, audit.started_at = AuditStatus.RUNNING, utc_now()
        return Claim(run.id, audit.id, run.kind, run.model, dict(run.precision))


def store(database_url: str, run_id: str, write_outputs: OutputWriter) -> bool:
    """Replace whatever an earlier attempt left with this attempt's outputs and close the run, atomically."""
    with session_scope(database_url) as session:
        run = run_repository.by_id(session, run_id, lock=True)
        audit = repository.audit_by_id(session, run.audit_id) if run else None
        if run is None or audit is None or run.status != RunStatus.RUNNING:
            return False  # deleted or cancelled meanwhile: the outputs are dropped
        run_repository.delete_outputs(session, run_id)
        write_outputs(session, run, audit)
        run.status, run.stage, run.share_done, run.finished_at = RunStatus.SUCCEEDED, None, 1.0, utc_now()
        release_ready_runs(session, run.audit_id)
        return True


def close(database_url: str, run_id: str, status: ClosingStatus, error: str | None) -> None:
    with session_scope(database_url) as session:
        run = run_repository.by_id(session, run_id, lock=True)
        if run is None or run.status in RunStatus.finished():
            return
        run.status, run.error, run.finished_at = status, error, utc_now()
        webhooks.emit(session, run)
        if run.kind == RunKind.UNLEARN:  # the variants of a model that was never made cannot run
            reason = f"unlearning {run.model} did not finish ({status}; that run has the reason)"
            run_repository.close_waiting(session, run.audit_id, run.model, status, reason)
        release_ready_runs(session, run.audit_id)


def release_ready_runs(session: Session, audit_id: str) -> None:
    """Queue the runs whose prerequisites have all finished; their messages go out after the commit."""
    for run in run_repository.release_ready(session, audit_id):
        enqueue_after_commit(session, broker_of(session), run_message(run.id, run.kind))


def finish_audit_when_done(database_url: str, broker_url: str, audit_id: str) -> None:
    """Send the summary task once no run of the audit is left (it is idempotent if sent twice)."""
    with session_scope(database_url) as session:
        audit = repository.audit_by_id(session, audit_id)
        if audit is None or audit.status not in AuditStatus.open():
            return
        if run_repository.unfinished_count(session, audit_id) == 0:
            enqueue_after_commit(session, broker_url, summary_message(audit_id))


def finish_audit(session: Session, audit: Audit, runs: list[Run]) -> None:
    """Close a summarised audit: failed, with each distinct reason once, when any run failed; else succeeded."""
    audit.error = failed_runs_summary(runs)
    audit.status = AuditStatus.FAILED if audit.error else AuditStatus.SUCCEEDED
    audit.finished_at = utc_now()
    webhooks.emit(session, audit)


def failed_runs_summary(runs: list[Run]) -> str | None:
    """`N of M runs failed: REASON (the run); REASON (K runs)`: each distinct reason once (the runs keep
    theirs), or None when no run failed."""
    by_reason: dict[str, list[Run]] = {}
    for run in runs:
        if run.status == RunStatus.FAILED:
            by_reason.setdefault(run.error or "no reason given", []).append(run)
    if not by_reason:
        return None
    failed = sum(len(group) for group in by_reason.values())
    reasons = [f"{reason} ({_which(group)})" for reason, group in by_reason.items()]
    return f"{failed} of {len(runs)} runs failed: {'; '.join(reasons)}"[:4000]


def _which(group: list[Run]) -> str:
    first = group[0]
    return f"{first.kind} {first.model} @ {first.precision_label}" if len(group) == 1 else f"{len(group)} runs"


def audit_of_run(database_url: str, run_id: str) -> str | None:
    with session_scope(database_url) as session:
        run = run_repository.by_id(session, run_id)
        return run.audit_id if run else None


def fail_audit(database_url: str, audit_id: str, error: str) -> None:
    with session_scope(database_url) as session:
        audit = repository.audit_by_id(session, audit_id, lock=True)
        if audit is not None and audit.status in AuditStatus.open():
            audit.status, audit.error, audit.finished_at = AuditStatus.FAILED, error[:4000], utc_now()
            webhooks.emit(session, audit)
