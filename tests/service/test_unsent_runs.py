"""A broker that does not answer loses nothing: the audit is stored, its runs are marked, and they are sent
once the broker answers again (by the API process itself), each exactly once; a lost summary is sent again."""

import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from service.audits.resend import resend_missing_summaries, resend_unsent_runs
from service.db import session_scope
from service.main import create_app
from service.models import Run
from service.models.base import utc_now
from service.models.states import UNSENT_STAGE
from service.queue import SUMMARY_TASK
from tests.service.submissions import queued_messages, spec_for

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def submit_while_broker_down(settings, auth, model_root) -> dict:
    dead = settings.model_copy(update={"broker_url": DEAD_BROKER, "resend_interval_s": 0})
    with TestClient(create_app(dead)) as client:
        response = client.post("/v1/audits", json=spec_for(model_root), headers=auth)
        assert response.status_code == 202, response.text
        return client.get(f"/v1/audits/{response.json()['id']}?include=runs", headers=auth).json()


def sent_run_ids(broker_url: str) -> list[str]:
    return sorted(args[0] for queue in ("gpu", "cpu") for _, args in queued_messages(broker_url, queue))


def test_a_broker_that_does_not_answer_leaves_the_audit_stored_and_its_runs_marked(settings, auth, model_root):
    audit = submit_while_broker_down(settings, auth, model_root)
    assert audit["status"] == "queued" and len(audit["runs"]) == 8
    statuses = {(run["status"], run["stage"]) for run in audit["runs"]}
    assert statuses == {("queued", UNSENT_STAGE), ("waiting", None)}  # the waiting ones are sent when released


def test_unsent_runs_are_sent_once_when_the_broker_answers(settings, auth, model_root, database_url):
    audit = submit_while_broker_down(settings, auth, model_root)
    assert resend_unsent_runs(database_url, DEAD_BROKER) == 0  # still down: nothing lost, nothing sent

    count = resend_unsent_runs(database_url, settings.broker_url)  # the database may hold other tests' runs too
    sent = sent_run_ids(settings.broker_url)
    queued = {run["id"] for run in audit["runs"] if run["status"] == "queued"}
    assert count == len(sent) >= len(queued) == 6 and queued <= set(sent)
    assert resend_unsent_runs(database_url, settings.broker_url) == 0
    assert sent_run_ids(settings.broker_url) == []


def test_the_api_sends_them_by_itself_once_the_broker_answers(settings, auth, model_root):
    audit = submit_while_broker_down(settings, auth, model_root)
    live = settings.model_copy(update={"resend_interval_s": 0.2})
    with TestClient(create_app(live)) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = client.get(f"/v1/audits/{audit['id']}?include=runs", headers=auth).json()["runs"]
            if all(run["stage"] is None for run in runs):
                break
            time.sleep(0.2)
    assert {(run["status"], run["stage"]) for run in runs} == {("queued", None), ("waiting", None)}
    assert {run["id"] for run in audit["runs"] if run["status"] == "queued"} <= set(sent_run_ids(settings.broker_url))


def finish_every_run(database_url: str, audit_id: str, seconds_ago: float) -> None:
    with session_scope(database_url) as session:
        finished = utc_now() - timedelta(seconds=seconds_ago)
        session.execute(update(Run).where(Run.audit_id == audit_id).values(status="succeeded", finished_at=finished))


def test_a_lost_summary_is_sent_again_after_a_grace_period(client, auth, settings, model_root, database_url):
    audit_ids = []
    for seconds_ago in (300, 5):
        response = client.post("/v1/audits", json=spec_for(model_root), headers=auth)
        audit_ids.append(response.json()["id"])
        finish_every_run(database_url, audit_ids[-1], seconds_ago)
    for queue in ("gpu", "cpu"):
        queued_messages(settings.broker_url, queue)  # drained: the runs' own messages

    sent = resend_missing_summaries(database_url, settings.broker_url, grace_s=60)
    summaries = [(task, args[0]) for task, args in queued_messages(settings.broker_url, "cpu")]
    assert (SUMMARY_TASK, audit_ids[0]) in summaries  # finished long ago and never summarised
    assert (SUMMARY_TASK, audit_ids[1]) not in summaries  # its summary may still be on its way
    assert audit_ids[0] in sent and not resend_missing_summaries(database_url, settings.broker_url, 60, skip=sent)
