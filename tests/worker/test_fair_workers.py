"""A real worker process on Redis (one for the module: it takes a while to start): the backlog of a cancelled
audit is acknowledged without running a task, and one tenant's backlog does not keep another tenant's run
waiting behind all of it."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import GPU_QUEUE, Settings
from service.models.states import AuditStatus
from tests.service.backlogs import backlog_audit, messages_left, send_run_messages, started_runs
from tests.service.databases import fresh_database
from tests.service.servers import fresh_redis, kill, start_worker, wait_for


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    """The settings of a running worker, and its log."""
    folder = tmp_path_factory.mktemp("worker")
    with pytest.MonkeyPatch.context() as patch, fresh_database("sqlite", folder) as url:
        patch.setenv("UNLEARN_AUDIT_FAIR_SHARE_DELAY_S", "1")
        settings = Settings(data_dir=folder, database_url=url, broker_url=fresh_redis(), model_roots=[folder])
        process = start_worker(settings, folder / "worker.log")
        try:
            yield settings, folder / "worker.log"
        finally:
            kill(process)


def test_a_cancelled_backlog_is_acknowledged_without_running_anything(worker):
    settings, log = worker
    url, broker = str(settings.database_url), str(settings.broker_url)
    wait_for(lambda: "ready" in log.read_text(), 120, "the worker to start")
    before = len(log.read_text())
    send_run_messages(broker, backlog_audit(url, "a", 40, AuditStatus.CANCELLED))
    wait_for(lambda: messages_left(broker, GPU_QUEUE) == 0, 30, "the cancelled backlog to drain")
    lines = log.read_text()[before:]
    assert lines.count("received") == 40
    assert "succeeded in" not in lines  # no task body ran


def test_another_tenants_run_starts_before_the_backlog_ahead_of_it(worker):
    settings, _log = worker
    url, broker = str(settings.database_url), str(settings.broker_url)
    backlog = backlog_audit(url, "b", 60)
    send_run_messages(broker, backlog)
    wait_for(lambda: started_runs(url, backlog), 120, "the backlog to start", interval_s=0.02)
    late = backlog_audit(url, "c", 1)
    send_run_messages(broker, late)  # behind every message of the backlog
    wait_for(lambda: started_runs(url, late), 30, "the other tenant's run to start", interval_s=0.05)
    assert started_runs(url, backlog) < len(backlog) // 2
