"""Every query on runs: the lookups of a run's lifecycle and the transitions that move many runs at once."""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.models import Audit, Collision, ItemScore, Result, Run, UnlearningRecordRow
from service.models.states import UNSENT_STAGE, AuditStatus, RunKind, RunStatus
from service.runs.dependencies import is_ready


def by_id(session: Session, run_id: str, lock: bool = False) -> Run | None:
    query = select(Run).where(Run.id == run_id)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def runs_of(session: Session, audit_ids: list[str]) -> list[Run]:
    query = select(Run).where(Run.audit_id.in_(audit_ids)).order_by(Run.created_at, Run.id)
    return list(session.scalars(query).all())


def unfinished_count(session: Session, audit_id: str) -> int:
    unfinished = Run.status.not_in(RunStatus.finished())
    query = select(func.count()).select_from(Run).where(Run.audit_id == audit_id, unfinished)
    return session.scalar(query) or 0


def unfinished_count_of_tenant(session: Session, tenant_id: str) -> int:
    """The tenant's runs that are queued, waiting or running, over all its audits."""
    query = (
        select(func.count())
        .select_from(Run)
        .join(Audit, Audit.id == Run.audit_id)
        .where(Audit.tenant_id == tenant_id, Run.status.not_in(RunStatus.finished()))
    )
    return session.scalar(query) or 0


def admission_state(session: Session, run_id: str) -> tuple[RunStatus, AuditStatus, str] | None:
    """(run status, audit status, tenant id) of a run, or None when it no longer exists."""
    query = select(Run.status, Audit.status, Audit.tenant_id).join(Audit, Audit.id == Run.audit_id)
    row = session.execute(query.where(Run.id == run_id)).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def last_starts(session: Session, tenant_ids: list[str]) -> dict[str, datetime | None]:
    """When each tenant's latest run started (None: none has started yet)."""
    query = (
        select(Audit.tenant_id, func.max(Run.started_at))
        .select_from(Run)
        .join(Audit, Audit.id == Run.audit_id)
        .where(Audit.tenant_id.in_(tenant_ids))
        .group_by(Audit.tenant_id)
    )
    return {tenant_id: started for tenant_id, started in session.execute(query)}


def tenants_with_queued_runs(session: Session, other_than: str) -> list[str]:
    """The other tenants with runs waiting for a worker (those sent to the broker)."""
    sent = or_(Run.stage.is_(None), Run.stage != UNSENT_STAGE)
    query = (
        select(Audit.tenant_id)
        .select_from(Run)
        .join(Audit, Audit.id == Run.audit_id)
        .where(Run.status == RunStatus.QUEUED, sent, Audit.tenant_id != other_than)
        .distinct()
    )
    return list(session.scalars(query))


def cancel_pending(session: Session, audit_id: str) -> None:
    """The audit's runs that have not started end cancelled (running ones notice at their next progress)."""
    session.execute(
        update(Run)
        .where(Run.audit_id == audit_id, Run.status.in_(RunStatus.pending()))
        .values(status=RunStatus.CANCELLED, stage=None)
    )


def release_ready(session: Session, audit_id: str) -> list[Run]:
    """The audit's waiting runs whose prerequisites have all finished, now queued (their messages are the
    caller's to send). The waiting rows are locked before the statuses are read, so that of two runs that
    finish at once the second sees the first's outcome."""
    waiting = select(Run).where(Run.audit_id == audit_id, Run.status == RunStatus.WAITING)
    candidates = list(session.scalars(waiting.order_by(Run.created_at, Run.id).with_for_update()).all())
    if not candidates:
        return []
    runs = runs_of(session, [audit_id])
    ready = [run for run in candidates if is_ready(run, runs)]
    for run in ready:
        run.status = RunStatus.QUEUED
    return ready


def close_waiting(session: Session, audit_id: str, model: str, status: RunStatus, error: str) -> None:
    """The runs that waited for `model`, which will never be made, end with the unlearning run's status."""
    session.execute(
        update(Run)
        .where(Run.audit_id == audit_id, Run.model == model, Run.status == RunStatus.WAITING)
        .values(status=status, error=error)
    )


def requeue_open(session: Session) -> list[Run]:
    """Every queued or running run, queued again: what a stopped embedded server left for its next start."""
    runs = list(session.scalars(select(Run).where(Run.status.in_(RunStatus.open()))).all())
    for run in runs:
        run.status = RunStatus.QUEUED
    return runs


def mark_unsent(session: Session, run_ids: list[str]) -> None:
    """Flag queued runs whose message the broker did not take, for the resend loop."""
    session.execute(update(Run).where(Run.id.in_(run_ids), Run.status == RunStatus.QUEUED).values(stage=UNSENT_STAGE))


def unsent(session: Session) -> list[tuple[str, RunKind]]:
    """(id, kind) of every queued run whose message was not sent."""
    query = select(Run.id, Run.kind).where(Run.status == RunStatus.QUEUED, Run.stage == UNSENT_STAGE)
    return [(run_id, kind) for run_id, kind in session.execute(query)]


def take_unsent(session: Session, run_id: str) -> bool:
    """Clear the run's unsent mark; False when another process took it first (or it is no longer queued)."""
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED, Run.stage == UNSENT_STAGE)
        .values(stage=None)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def audits_awaiting_summary(session: Session, finished_before: datetime) -> list[str]:
    """Open audits whose runs have all finished, the last one before `finished_before`."""
    unfinished = select(Run.id).where(Run.audit_id == Audit.id, Run.status.not_in(RunStatus.finished()))
    last_finish = select(func.max(Run.finished_at)).where(Run.audit_id == Audit.id).scalar_subquery()
    query = select(Audit.id).where(
        Audit.status.in_(AuditStatus.open()), ~unfinished.exists(), last_finish < finished_before
    )
    return list(session.scalars(query))


def delete_outputs(session: Session, run_id: str) -> None:
    """Everything a previous, interrupted attempt of this run may have left."""
    for table in (ItemScore, Result, Collision, UnlearningRecordRow):
        session.execute(delete(table).where(table.run_id == run_id))
