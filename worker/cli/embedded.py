"""The embedded default's pieces: an in-process worker thread, recovery of unfinished runs, a first key."""

import threading

from celery.worker import WorkController
from sqlalchemy import func, select

from service.config import CPU_QUEUE, GPU_QUEUE, Settings
from service.db import session_scope
from service.keys.service import create_key
from service.models import Run, Tenant
from service.queue import run_message, send_now

DEFAULT_TENANT = "default"


def start_embedded_worker() -> WorkController:
    """A solo-pool Celery worker consuming both queues in a daemon thread of this process."""
    from worker.celery_app import app

    worker = app.WorkController(
        pool_cls="solo",
        concurrency=1,
        queues=[GPU_QUEUE, CPU_QUEUE],
        loglevel="WARNING",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="embedded-worker", daemon=True).start()
    return worker


def recover_unfinished_runs(settings: Settings) -> int:
    """Re-send the runs that a stopped server left queued or running (the tasks are idempotent)."""
    with session_scope(settings.sqlalchemy_url) as session:
        runs = session.scalars(select(Run).where(Run.status.in_(("queued", "running")))).all()
        for run in runs:
            run.status = "queued"
        messages = [run_message(run.id, run.kind) for run in runs]
    for message in messages:
        send_now(str(settings.broker_url), message)
    return len(messages)


def first_key_message(settings: Settings) -> str:
    """On a new data folder, a first API key (shown once); later, how to make another."""
    with session_scope(settings.sqlalchemy_url) as session:
        if session.scalar(select(func.count()).select_from(Tenant)):
            return "API keys: create one with `unlearn-audit keys create --tenant NAME` (same data folder)"
        created = create_key(session, DEFAULT_TENANT)
    return f"first API key (tenant '{DEFAULT_TENANT}', shown once): {created.token}"
