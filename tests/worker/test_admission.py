"""What a worker's main process decides for a run message, on a migrated SQLite database: drop the messages
of a cancelled audit, hold back a tenant served more recently than another one that waits, run the rest."""

from datetime import timedelta

import pytest

from service.db import session_scope
from service.models import Audit, Run
from service.models.base import utc_now
from service.models.states import AuditStatus
from tests.service.backlogs import backlog_audit
from tests.service.databases import fresh_database
from worker.runs.admission import MAX_DEFERRALS, Admission, admission


@pytest.fixture
def database_url(tmp_path):
    with fresh_database("sqlite", tmp_path) as url:
        yield url


def started(url: str, run_id: str, minutes_ago: int) -> None:
    with session_scope(url) as session:
        session.get(Run, run_id).started_at = utc_now() - timedelta(minutes=minutes_ago)


def test_messages_of_a_cancelled_or_deleted_audit_are_dropped(database_url):
    (cancelled,) = backlog_audit(database_url, "a", 1, AuditStatus.CANCELLED)
    assert admission(database_url, cancelled) == Admission.SKIP
    assert admission(database_url, "no-such-run") == Admission.SKIP


def test_a_finished_run_of_an_open_audit_still_goes_to_the_pool(database_url):
    (run_id,) = backlog_audit(database_url, "a", 1)
    with session_scope(database_url) as session:
        session.get(Run, run_id).status = "succeeded"  # its worker was lost before it finished the audit
    assert admission(database_url, run_id) == Admission.RUN


def test_a_tenant_served_more_recently_waits_for_the_other(database_url):
    first, second, *_ = backlog_audit(database_url, "a", 3)
    assert admission(database_url, first) == Admission.RUN  # alone: never held back
    started(database_url, first, minutes_ago=1)
    (other,) = backlog_audit(database_url, "b", 1)
    assert admission(database_url, second) == Admission.DEFER  # b has waited and was never served
    assert admission(database_url, other) == Admission.RUN
    started(database_url, other, minutes_ago=0)
    assert admission(database_url, second) == Admission.RUN  # b has no queued run left and was served after a


def test_the_tenant_served_least_recently_is_never_held_back(database_url):
    a_runs = backlog_audit(database_url, "a", 2)
    b_runs = backlog_audit(database_url, "b", 2)
    started(database_url, a_runs[0], minutes_ago=5)
    started(database_url, b_runs[0], minutes_ago=1)
    with session_scope(database_url) as session:
        for run_id in (a_runs[0], b_runs[0]):
            session.get(Run, run_id).status = "running"
        assert session.get(Audit, session.get(Run, a_runs[0]).audit_id).status == "queued"
    assert admission(database_url, a_runs[1]) == Admission.RUN
    assert admission(database_url, b_runs[1]) == Admission.DEFER


def test_a_run_held_back_many_times_goes_ahead(database_url):
    first, second = backlog_audit(database_url, "a", 2)
    started(database_url, first, minutes_ago=1)
    backlog_audit(database_url, "b", 1)  # its message may have been lost: b's run may never start
    assert admission(database_url, second, deferrals=MAX_DEFERRALS - 1) == Admission.DEFER
    assert admission(database_url, second, deferrals=MAX_DEFERRALS) == Admission.RUN
