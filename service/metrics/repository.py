"""The queries behind /metrics: counts by state, and run durations; never a tenant's id or data."""

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Run, WebhookDelivery


def runs_by_status_and_kind(session: Session) -> list[tuple[str, str, int]]:
    query = select(Run.status, Run.kind, func.count()).group_by(Run.status, Run.kind)
    return [(str(status), str(kind), count) for status, kind, count in session.execute(query)]


def deliveries_by_status(session: Session) -> list[tuple[str, int]]:
    query = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    return [(str(status), count) for status, count in session.execute(query)]


def finished_run_times(session: Session) -> Iterator[tuple[str, datetime, datetime]]:
    """(kind, started_at, finished_at) of every run that started and finished, streamed."""
    query = select(Run.kind, Run.started_at, Run.finished_at).where(
        Run.started_at.is_not(None), Run.finished_at.is_not(None)
    )
    for kind, started_at, finished_at in session.execute(query.execution_options(yield_per=1000)):
        if started_at is not None and finished_at is not None:  # always, by the query; said for the types
            yield str(kind), started_at, finished_at
