"""Thin Celery tasks: take ids, load rows, call the engine, store results (names in service.queue)."""

import logging
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded

from service.artifacts import remove_audit_files
from service.audits import repository
from service.config import get_settings
from service.db import session_scope
from service.models.states import AuditStatus, RunStatus
from service.queue import COLLISION_TASK, DELIVER_WEBHOOK_TASK, EVALUATE_TASK, SUMMARY_TASK, UNLEARN_TASK
from worker.celery_app import app
from worker.runs import lifecycle, work
from worker.runs.admission import RunRequest
from worker.runs.artifacts import remove_copies_of_deleted_audits
from worker.runs.errors import public_error
from worker.runs.progress import RunCancelledError, RunProgress
from worker.webhooks import delivery

logger = logging.getLogger(__name__)
Work = Callable[..., lifecycle.OutputWriter]


@app.task(name=EVALUATE_TASK, Request=RunRequest)
def evaluate_run(run_id: str) -> None:
    execute(run_id, work.evaluate)


@app.task(name=COLLISION_TASK, Request=RunRequest)
def collision_run(run_id: str) -> None:
    execute(run_id, work.collision)


@app.task(name=UNLEARN_TASK, Request=RunRequest)
def unlearn_run(run_id: str) -> None:
    execute(run_id, work.unlearn)


@app.task(name=SUMMARY_TASK)
def summarize_audit(audit_id: str) -> None:
    settings = get_settings()
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            audit = repository.audit_by_id(session, audit_id, lock=True)
            if audit is None or audit.status not in AuditStatus.open():
                return  # deleted, cancelled, or already summarised by an earlier delivery
            work.summarize_audit(session, audit)
    except Exception as error:  # the audit must end: it is closed as failed, with the reason
        logger.exception("summary of audit %s failed", audit_id)
        lifecycle.fail_audit(settings.sqlalchemy_url, audit_id, f"summary: {public_error(error)}")


@app.task(name=DELIVER_WEBHOOK_TASK)
def deliver_webhook(delivery_id: str) -> None:
    delivery.attempt(get_settings(), delivery_id)


def execute(run_id: str, compute: Work) -> None:
    """Claim the run, compute, store atomically; a failure is recorded on the run, never retried blindly."""
    settings = get_settings()
    url = settings.sqlalchemy_url
    claim = lifecycle.claim(url, run_id)
    if claim is None:  # nothing to run; but a worker lost after storing may not have finished the audit
        audit_id = lifecycle.audit_of_run(url, run_id)
        if audit_id:
            lifecycle.finish_audit_when_done(url, str(settings.broker_url), audit_id)
        return
    progress = RunProgress(url, run_id, settings.progress_interval_s)
    try:
        writer = compute(settings, claim, progress)
        lifecycle.store(url, run_id, writer)
    except RunCancelledError:
        lifecycle.close(url, run_id, RunStatus.CANCELLED, None)
    except SoftTimeLimitExceeded:
        lifecycle.close(url, run_id, RunStatus.FAILED, f"stopped after the time limit of {settings.run_time_limit_s} s")
    except Exception as error:  # recorded on the run (type and short reason), so that the audit can show why
        logger.exception("run %s failed", run_id)
        reason = public_error(error, work.visible_roots(settings, claim.audit_id))
        lifecycle.close(url, run_id, RunStatus.FAILED, reason)
    if lifecycle.audit_of_run(url, run_id) is None:  # deleted while it ran: drop what this run saved
        remove_audit_files(settings, claim.audit_id)
    else:
        lifecycle.finish_audit_when_done(url, str(settings.broker_url), claim.audit_id)
    if settings.artifact_url:  # copies this machine downloaded of audits deleted since
        remove_copies_of_deleted_audits(settings)
