"""What a worker's main process does with a run message before a pool process sees it.

Pool processes are recycled every few tasks (worker.celery_app) and a task there may load a model, so a
message with nothing to do must reach neither. The main process looks the run up first (on a connection it
does not keep, since it forks the pool's processes):

- nothing to do (the run is gone, or finished in a closed audit: a cancelled audit's backlog): the message is
  acknowledged and dropped;
- another tenant with runs waiting was served (last started a run) less recently than this run's tenant: the
  message is sent again `fair_share_delay_s` later and this one acknowledged, so that one tenant's backlog
  cannot keep the other tenants' runs waiting behind all of it (at most MAX_DEFERRALS times: a queued run
  whose message was lost must not hold the others back for ever);
- otherwise the run goes to the pool.
"""

import logging
from enum import StrEnum

from celery.worker.request import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.config import get_settings
from service.db import engine_for
from service.models.states import AuditStatus, RunStatus
from service.runs import repository as run_repository

logger = logging.getLogger(__name__)
MAX_DEFERRALS = 60
DEFERRALS_HEADER = "fair_share_deferrals"


class Admission(StrEnum):
    RUN = "run"
    SKIP = "nothing to do"
    DEFER = "a less recently served tenant goes first"


def admission(database_url: str, run_id: str, deferrals: int = 0) -> Admission:
    with Session(engine_for(database_url, pooled=False)) as session:
        state = run_repository.admission_state(session, run_id)
        if state is None:
            return Admission.SKIP
        run_status, audit_status, tenant_id = state
        if run_status in RunStatus.finished() and audit_status not in AuditStatus.open():
            return Admission.SKIP
        if run_status == RunStatus.QUEUED and deferrals < MAX_DEFERRALS and others_go_first(session, tenant_id):
            return Admission.DEFER
        return Admission.RUN


def others_go_first(session: Session, tenant_id: str) -> bool:
    """Whether another tenant with queued runs last started one before this tenant did (or never has).

    The waiting tenant served least recently is never held back, so some run always goes ahead.
    """
    waiting = run_repository.tenants_with_queued_runs(session, other_than=tenant_id)
    if not waiting:
        return False
    starts = run_repository.last_starts(session, [tenant_id, *waiting])
    own = starts.get(tenant_id)
    if own is None:
        return False
    return any((other_start := starts.get(other)) is None or other_start < own for other in waiting)


class RunRequest(Request):
    """A run message as the worker's main process handles it: Celery asks `revoked()` right before it hands a
    message to the pool; True acknowledges the message and drops it, as for a revoked task."""

    def revoked(self) -> bool:
        if super().revoked():
            return True
        settings = get_settings()
        run_id, deferrals = self.args[0], int(self.request_dict.get(DEFERRALS_HEADER) or 0)
        try:
            decision = admission(settings.sqlalchemy_url, run_id, deferrals)
        except SQLAlchemyError as error:  # the task itself meets the database and records what happened
            logger.warning("run %s: admission not checked (%s)", run_id, type(error).__name__)
            return False
        if decision == Admission.RUN:
            return False
        if decision == Admission.DEFER:
            headers = {DEFERRALS_HEADER: deferrals + 1}
            self.task.apply_async(args=self.args, countdown=settings.fair_share_delay_s, headers=headers)
        logger.debug("run %s: %s", run_id, decision)
        self._announce_revoked(decision.value, False, None, False)
        return True
