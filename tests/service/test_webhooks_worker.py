"""Deliveries made by a real Celery worker process on Redis, to a real receiver on 127.0.0.1 that verifies
every signature: a ping that fails first and succeeds on retry (SQLite and PostgreSQL), and the events of
real audits (PostgreSQL): audit.succeeded, and run.failed then audit.failed for a model that cannot load."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.service.databases import fresh_database, new_api_key
from tests.service.servers import fresh_redis, kill, start_worker, wait_for
from tests.service.webhook_receiver import Receiver
from tests.tiny_world import stand_in_models

pytestmark = pytest.mark.services


@pytest.fixture
def worker_settings(request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory) -> Settings:
    broker_url = fresh_redis()
    with fresh_database(request.param, tmp_path) as url:
        yield Settings(
            data_dir=tmp_path,
            database_url=url,
            broker_url=broker_url,
            model_roots=[tmp_path_factory.getbasetemp()],
            shared_model_roots=True,
            progress_interval_s=0.0,
            webhook_allow_private=True,  # the receiver listens on 127.0.0.1
            webhook_retry_base_s=0.5,
        )


def subscribe(client: TestClient, auth: dict, receiver: Receiver, events: list[str]) -> str:
    response = client.post("/v1/webhooks", json={"url": receiver.url(), "events": events}, headers=auth)
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    return response.json()["id"]


def settled_log(client: TestClient, auth: dict, webhook_id: str, count: int) -> list[dict] | None:
    """The webhook's deliveries, oldest first, once `count` of them have stopped being pending."""
    items = client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=auth).json()["items"]
    done = [item for item in items if item["status"] != "pending"]
    return list(reversed(done)) if len(done) >= count else None


@pytest.mark.parametrize("worker_settings", ["sqlite", "postgresql"], indirect=True)
def test_a_ping_that_fails_first_is_delivered_on_retry(worker_settings, tmp_path):
    log = tmp_path / "worker.log"
    worker = start_worker(worker_settings, log)
    try:
        with Receiver([500, 204]) as receiver, TestClient(create_app(worker_settings)) as client:
            auth = {"Authorization": f"Bearer {new_api_key(worker_settings.sqlalchemy_url)}"}
            webhook_id = subscribe(client, auth, receiver, ["audit.succeeded"])
            ping = client.post(f"/v1/webhooks/{webhook_id}/ping", headers=auth).json()
            what = f"the ping to be delivered (log: {log})"
            (delivered,) = wait_for(lambda: settled_log(client, auth, webhook_id, 1), 120, what, interval_s=0.5)
    finally:
        kill(worker)
    assert [r.verified for r in receiver.received] == [True, True]
    assert [r.headers["webhook-id"] for r in receiver.received] == [ping["id"], ping["id"]]
    assert (delivered["status"], delivered["attempts"]) == ("succeeded", 2)
    first, second = delivered["attempt_log"]
    assert (first["status_code"], second["status_code"], second["error"]) == (500, 204, None)
    assert "HTTP 500" in first["error"]
    assert second["at"] > first["at"]


@pytest.mark.slow
@pytest.mark.parametrize("worker_settings", ["postgresql"], indirect=True)
def test_a_real_worker_sends_the_events_of_real_audits(
    worker_settings, tmp_path, tiny_target_dir, tiny_unlearned_dir, tiny_bundle
):
    broken = stand_in_models(tmp_path, ("broken",)) / "broken"  # passes submission (a config.json), cannot load
    spec = {
        "target": {"model": str(tiny_target_dir)},
        "unlearned": [{"name": "noisy", "model": str(tiny_unlearned_dir)}],
        "corpus": tiny_bundle.to_document(),
        "precisions": [{"method": "full"}],
        "metrics": ["verbmem_f"],
        "limits": {"max_items": 2, "bootstrap_samples": 10},
    }
    log = tmp_path / "worker.log"
    worker = start_worker(worker_settings, log)
    try:
        with Receiver([204]) as receiver, TestClient(create_app(worker_settings)) as client:
            auth = {"Authorization": f"Bearer {new_api_key(worker_settings.sqlalchemy_url)}"}
            webhook_id = subscribe(client, auth, receiver, ["audit.succeeded", "audit.failed", "run.failed"])
            passing = client.post("/v1/audits", json=spec, headers=auth).json()["id"]
            unlearned = [{"name": "broken", "model": str(broken)}]
            failing = client.post("/v1/audits", json={**spec, "unlearned": unlearned}, headers=auth).json()["id"]
            what = f"the audits' events (log: {log})"
            wait_for(lambda: settled_log(client, auth, webhook_id, 3), 300, what, interval_s=1.0)
    finally:
        kill(worker)
    assert all(r.verified for r in receiver.received)
    events = [json.loads(r.body) for r in receiver.received]
    by_audit = {(e["type"], e["data"]["audit_id"]) for e in events}
    assert by_audit == {("audit.succeeded", passing), ("run.failed", failing), ("audit.failed", failing)}
    (run_failed,) = [e["data"] for e in events if e["type"] == "run.failed"]
    assert run_failed["model"] == "broken" and run_failed["error"].startswith("ModelLoadError: cannot load model")
    (succeeded,) = [e["data"] for e in events if e["type"] == "audit.succeeded"]
    assert succeeded["verdict"] is not None and succeeded["status"] == "succeeded"
