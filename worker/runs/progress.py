"""Engine progress written to a run's row as it goes (throttled), which is also where a cancel is noticed."""

import time

from service.audits import repository
from service.db import session_scope
from service.models.states import AuditStatus, RunStatus
from service.runs import repository as run_repository


class RunCancelledError(Exception):
    """The audit was cancelled or deleted while this run was working."""


class RunProgress:
    """An engine `Progress` callback that updates the run's stage and share at most once per interval."""

    def __init__(self, database_url: str, run_id: str, interval_s: float):
        self.database_url = database_url
        self.run_id = run_id
        self.interval_s = interval_s
        self._last_write = 0.0
        self._last_stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished_stage = total > 0 and done >= total
        if stage == self._last_stage and not finished_stage and now - self._last_write < self.interval_s:
            return
        self._last_write, self._last_stage = now, stage
        self.write(stage, done / total if total > 0 else 0.0)

    def write(self, stage: str, share_done: float) -> None:
        with session_scope(self.database_url) as session:
            run = run_repository.by_id(session, self.run_id)
            audit = repository.audit_by_id(session, run.audit_id) if run else None
            cancelled = audit is None or audit.status == AuditStatus.CANCELLED
            if run is None or cancelled or run.status != RunStatus.RUNNING:
                raise RunCancelledError(f"run {self.run_id} was cancelled")
            run.stage = stage[:64]
            run.share_done = min(max(share_done, 0.0), 1.0)
