"""The worker's transitions emit their events, on SQLite and PostgreSQL: a failed run (closed after an error,
or after losing its worker too often) emits run.failed, a cancelled one nothing; an audit whose summary
failed emits audit.failed. (A summarised audit's audit.succeeded / audit.failed: test_webhooks_worker.py.)"""

import json

import pytest
from sqlalchemy import select, update

from service.config import get_settings
from service.db import session_scope
from service.models import Run, WebhookDelivery
from tests.service.submissions import spec_for
from tests.service.webhook_calls import create, delivery_messages
from worker.runs import lifecycle


@pytest.fixture
def worker_settings(settings, monkeypatch):
    """The process settings, as a worker reads them (events go to the test's broker)."""
    monkeypatch.setenv("UNLEARN_AUDIT_BROKER_URL", settings.broker_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def tenant_events(database_url: str, webhook_id: str) -> list[dict]:
    with session_scope(database_url) as session:
        query = select(WebhookDelivery.payload).where(WebhookDelivery.webhook_id == webhook_id)
        return [json.loads(payload) for payload in session.scalars(query.order_by(WebhookDelivery.created_at))]


def audit_with_runs(client, auth, model_root) -> dict:
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    return client.get(f"/v1/audits/{audit_id}?include=runs", headers=auth).json()


def test_a_run_that_fails_emits_run_failed_and_a_cancelled_one_nothing(
    client, auth, worker_settings, database_url, model_root
):
    webhook = create(client, auth, events=["run.failed"])
    audit = audit_with_runs(client, auth, model_root)
    failing, cancelled = audit["runs"][0]["id"], audit["runs"][1]["id"]
    for run_id in (failing, cancelled):
        lifecycle.claim(database_url, run_id)
    lifecycle.close(database_url, failing, "failed", "RuntimeError: out of memory")
    lifecycle.close(database_url, cancelled, "cancelled", None)
    (event,) = tenant_events(database_url, webhook["id"])
    assert event["type"] == "run.failed"
    assert event["data"]["run_id"] == failing and event["data"]["audit_id"] == audit["id"]
    assert event["data"]["error"] == "RuntimeError: out of memory"
    assert event["data"]["model"] == audit["runs"][0]["model"]
    assert len(delivery_messages(worker_settings.broker_url)) == 1


def test_a_run_that_keeps_losing_its_worker_emits_run_failed(client, auth, worker_settings, database_url, model_root):
    webhook = create(client, auth, events=["run.failed"])
    run_id = audit_with_runs(client, auth, model_root)["runs"][0]["id"]
    with session_scope(database_url) as session:
        session.execute(update(Run).where(Run.id == run_id).values(attempts=lifecycle.MAX_ATTEMPTS))
    assert lifecycle.claim(database_url, run_id) is None
    (event,) = tenant_events(database_url, webhook["id"])
    assert event["data"]["run_id"] == run_id and "lost its worker" in event["data"]["error"]


def test_an_audit_whose_summary_failed_emits_audit_failed(client, auth, worker_settings, database_url, model_root):
    webhook = create(client, auth, events=["audit.failed", "audit.succeeded"])
    audit_id = audit_with_runs(client, auth, model_root)["id"]
    lifecycle.fail_audit(database_url, audit_id, "summary: KeyError: 'verbmem_f'")
    lifecycle.fail_audit(database_url, audit_id, "summary: again")  # already failed: no second event
    (event,) = tenant_events(database_url, webhook["id"])
    assert event["type"] == "audit.failed"
    assert event["data"] == {
        "audit_id": audit_id,
        "status": "failed",
        "verdict": None,
        "error": "summary: KeyError: 'verbmem_f'",
        "created_at": event["data"]["created_at"],
        "finished_at": event["data"]["finished_at"],
    }
    assert event["data"]["finished_at"] is not None
