"""A broker that does not answer loses nothing: the audit is stored, its runs are marked, and they are sent
once the broker answers again (by the API process itself), each exactly once."""

import time

from fastapi.testclient import TestClient

from service.audits.resend import resend_unsent_runs
from service.main import create_app
from service.queue import UNSENT_STAGE
from tests.service.test_audits_api import queued_messages, spec_for

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def submit_while_broker_down(settings, auth, model_root) -> dict:
    dead = settings.model_copy(update={"broker_url": DEAD_BROKER, "resend_interval_s": 0})
    with TestClient(create_app(dead)) as client:
        response = client.post("/v1/audits", json=spec_for(model_root), headers=auth)
        assert response.status_code == 202, response.text
        return client.get(f"/v1/audits/{response.json()['id']}", headers=auth).json()


def sent_run_ids(broker_url: str) -> list[str]:
    return sorted(args[0] for queue in ("gpu", "cpu") for _, args in queued_messages(broker_url, queue))


def test_a_broker_that_does_not_answer_leaves_the_audit_stored_and_its_runs_marked(settings, auth, model_root):
    audit = submit_while_broker_down(settings, auth, model_root)
    assert audit["status"] == "queued" and len(audit["runs"]) == 8
    assert {(run["status"], run["stage"]) for run in audit["runs"]} == {("queued", UNSENT_STAGE)}


def test_unsent_runs_are_sent_once_when_the_broker_answers(settings, auth, model_root, database_url):
    audit = submit_while_broker_down(settings, auth, model_root)
    assert resend_unsent_runs(database_url, DEAD_BROKER) == 0  # still down: nothing lost, nothing sent

    count = resend_unsent_runs(database_url, settings.broker_url)  # the database may hold other tests' runs too
    sent = sent_run_ids(settings.broker_url)
    assert count == len(sent) >= 8 and {run["id"] for run in audit["runs"]} <= set(sent)
    assert resend_unsent_runs(database_url, settings.broker_url) == 0
    assert sent_run_ids(settings.broker_url) == []


def test_the_api_sends_them_by_itself_once_the_broker_answers(settings, auth, model_root):
    audit = submit_while_broker_down(settings, auth, model_root)
    live = settings.model_copy(update={"resend_interval_s": 0.2})
    with TestClient(create_app(live)) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = client.get(f"/v1/audits/{audit['id']}", headers=auth).json()["runs"]
            if all(run["stage"] is None for run in runs):
                break
            time.sleep(0.2)
    assert {(run["status"], run["stage"]) for run in runs} == {("queued", None)}
    assert {run["id"] for run in audit["runs"]} <= set(sent_run_ids(settings.broker_url))
