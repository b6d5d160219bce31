"""A run's life in the database: claim it, store its outputs in one transaction, close it, finish the audit.

Every step is idempotent, keyed by the run's row: a re-delivered message for a finished run does nothing, and
one for a run that a lost worker left half-done starts it over (its partial rows are deleted first).
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.audits import repository
from service.config import CPU_QUEUE
from service.db import session_scope
from service.models import Audit, Run
from service.models.base import utc_now
from service.models.run import FINISHED_RUN_STATUSES
from service.queue import SUMMARY_TASK, Message, enqueue_after_commit
from service.webhooks import service as webhooks

MAX_ATTEMPTS = 3
OutputWriter = Callable[[Session, Run, Audit], None]


@dataclass(frozen=True)
class Claim:
    """What a worker needs to know of the run it claimed (plain values: no session is held while it works)."""

    run_id: str
    audit_id: str
    kind: str
    model: str
    precision: dict


def claim(database_url: str, run_id: str) -> Claim | None:
    """Mark the run running (once more after a lost worker), or None when there is nothing to do."""
    with session_scope(database_url) as session:
        run = repository.run_by_id(session, run_id, lock=True)
        if run is None or run.status in FINISHED_RUN_STATUSES or run.status == "waiting":
            return None
        audit = repository.audit_by_id(session, run.audit_id, lock=True)
        if audit is None:
            return None
        if audit.status == "cancelled":
            run.status, run.finished_at = "cancelled", utc_now()
            return None
        if run.attempts >= MAX_ATTEMPTS:  # it took its worker down every time (memory, hard time limit)
            run.status, run.finished_at = "failed", utc_now()
            run.error = f"the run was started {run.attempts} times and lost its worker each time"
            webhooks.emit(session, run)
            return None
        run.status, run.stage, run.share_done, run.error = "running", "starting", 0.0, None
        run.attempts += 1
        run.started_at = utc_now()
        if audit.status == "queued":
            audit.status, audit.started_at = "running", utc_now()
        return Claim(run.id, audit.id, run.kind, run.model, dict(run.precision))


def store(database_url: str, run_id: str, write_outputs: OutputWriter) -> bool:
    """Replace whatever an earlier attempt left with this attempt's outputs and close the run, atomically."""
    with session_scope(database_url) as session:
        run = repository.run_by_id(session, run_id, lock=True)
        audit = repository.audit_by_id(session, run.audit_id) if run else None
        if run is None or audit is None or run.status != "running":
            return False  # deleted or cancelled meanwhile: the outputs are dropped
        repository.delete_run_outputs(session, run_id)
        write_outputs(session, run, audit)
        run.status, run.stage, run.share_done, run.finished_at = "succeeded", None, 1.0, utc_now()
        return True


def close(database_url: str, run_id: str, status: str, error: str | None) -> None:
    with session_scope(database_url) as session:
        run = repository.run_by_id(session, run_id, lock=True)
        if run is None or run.status in FINISHED_RUN_STATUSES:
            return
        run.status, run.error, run.finished_at = status, error, utc_now()
        webhooks.emit(session, run)
        if run.kind == "unlearn":  # the variants of a model that was never made cannot run
            session.execute(
                update(Run)
                .where(Run.audit_id == run.audit_id, Run.model == run.model, Run.status == "waiting")
                .values(status=status, error=f"unlearning {run.model} did not finish: {error or status}")
            )


def finish_audit_when_done(database_url: str, broker_url: str, audit_id: str) -> None:
    """Send the summary task once no run of the audit is left (it is idempotent if sent twice)."""
    with session_scope(database_url) as session:
        audit = repository.audit_by_id(session, audit_id)
        if audit is None or audit.status not in ("queued", "running"):
            return
        if repository.unfinished_run_count(session, audit_id) == 0:
            enqueue_after_commit(session, broker_url, Message(SUMMARY_TASK, (audit_id,), CPU_QUEUE))


def audit_of_run(database_url: str, run_id: str) -> str | None:
    with session_scope(database_url) as session:
        run = repository.run_by_id(session, run_id)
        return run.audit_id if run else None


def fail_audit(database_url: str, audit_id: str, error: str) -> None:
    with session_scope(database_url) as session:
        audit = repository.audit_by_id(session, audit_id, lock=True)
        if audit is not None and audit.status in ("queued", "running"):
            audit.status, audit.error, audit.finished_at = "failed", error[:4000], utc_now()
            webhooks.emit(session, audit)
