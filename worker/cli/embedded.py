"""The embedded default's pieces: an in-process worker thread, recovery of unfinished runs, a first key."""

import threading

from celery.worker import WorkController

from service.audits import repository as audit_repository
from service.config import CPU_QUEUE, GPU_QUEUE, Settings
from service.db import session_scope
from service.keys import repository as key_repository
from service.keys.service import create_key
from service.queue import run_message, send_now
from service.runs import repository as run_repository
from worker.runs.lifecycle import finish_audit_when_done

DEFAULT_TENANT = "default"


def start_embedded_worker() -> WorkController:
    """A solo-pool Celery worker consuming both queues in a daemon thread of this process (which keeps a core
    for the API: torch's threads are set to the others)."""
    from worker.celery_app import RESERVED_CORES, app

    app.conf[RESERVED_CORES] = 1

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
    """Re-send what a stopped server left undone: queued or running runs, and audits awaiting their summary.

    The tasks are idempotent, so a message that is still on the broker as well does no harm.
    """
    with session_scope(settings.sqlalchemy_url) as session:
        messages = [run_message(run.id, run.kind) for run in run_repository.requeue_open(session)]
        open_audits = audit_repository.open_audit_ids(session)
    for message in messages:
        send_now(str(settings.broker_url), message)
    for audit_id in open_audits:
        finish_audit_when_done(settings.sqlalchemy_url, str(settings.broker_url), audit_id)
    return len(messages)


def first_key_message(settings: Settings) -> str:
    """On a new data folder, a first API key (shown once); later, how to make another."""
    with session_scope(settings.sqlalchemy_url) as session:
        if key_repository.has_tenants(session):
            return "API keys: create one with `unlearn-audit keys create --tenant NAME` (same data folder)"
        created = create_key(session, DEFAULT_TENANT)
    return f"first API key (tenant '{DEFAULT_TENANT}', shown once): {created.token}"
