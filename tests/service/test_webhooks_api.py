"""Webhook routes on SQLite and PostgreSQL: the secret shown once and stored encrypted, SSRF refusals at
creation, the per-tenant limit, tenant isolation, and events recorded in the transaction that causes them."""

import base64
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db import session_scope
from service.main import create_app
from service.models import Audit, Webhook, WebhookDelivery
from service.queue import use_broker
from service.webhooks import service as webhooks
from service.webhooks.signing_secrets import unseal
from tests.service.problems import field_errors, problem
from tests.service.submissions import spec_for
from tests.service.webhook_calls import ALL_EVENTS, PUBLIC_URL, create, delivery_messages


def deliveries(database_url: str, webhook_id: str) -> list[WebhookDelivery]:
    with session_scope(database_url) as session:
        query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        return list(session.scalars(query.order_by(WebhookDelivery.created_at)))


def test_the_secret_is_shown_once_and_stored_encrypted(client, auth, settings, database_url):
    created = create(client, auth, description="compliance bot")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    assert created["events"] == ALL_EVENTS and created["description"] == "compliance bot"
    shown = client.get(f"/v1/webhooks/{created['id']}", headers=auth).json()
    listed = client.get("/v1/webhooks", headers=auth).json()
    assert "secret" not in shown and all("secret" not in item for item in listed["items"])
    assert shown == {key: value for key, value in created.items() if key != "secret"}
    with session_scope(database_url) as session:
        row = session.get(Webhook, created["id"])
        assert created["secret"] not in row.sealed_secret
        assert unseal(settings, row.sealed_secret) == created["secret"]


@pytest.mark.parametrize(
    ("body", "location", "reason"),
    [
        ({"url": PUBLIC_URL, "events": []}, ["body", "events"], "at least 1 item"),
        ({"url": PUBLIC_URL, "events": ["audit.exploded"]}, ["body", "events", 0], "Input should be"),
        ({"url": "ftp://93.184.215.14/x", "events": ["run.failed"]}, ["body", "url"], "URL scheme should be"),
        ({"url": "http://user:pw@93.184.215.14/", "events": ["run.failed"]}, ["body", "url"], "credentials"),
        ({"url": PUBLIC_URL, "events": ["run.failed"], "secret": "mine"}, ["body", "secret"], "Extra inputs"),
    ],
)
def test_a_bad_webhook_is_refused_by_field(client, auth, body, location, reason):
    response = client.post("/v1/webhooks", json=body, headers=auth)
    assert any(where == location and reason in message for where, message in field_errors(response))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "'127.0.0.1': a loopback address"),
        ("http://localhost:8080/hook", "'localhost' resolves to"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://192.168.1.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://100.64.0.1/hook", "not globally routable"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_urls_that_reach_the_service_network_are_refused(client, auth, url, reason):
    response = client.post("/v1/webhooks", json={"url": url, "events": ["run.failed"]}, headers=auth)
    ((location, message),) = field_errors(response)
    assert location == ["body", "url"] and reason in message


def test_localhost_is_refused_for_each_address_it_resolves_to(client, auth):
    response = client.post("/v1/webhooks", json={"url": "http://localhost/", "events": ["run.failed"]}, headers=auth)
    ((_location, message),) = field_errors(response)
    assert "loopback" in message and ("127.0.0.1" in message or "::1" in message)


def test_private_urls_are_accepted_when_allowed(settings, auth):
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    with TestClient(create_app(allowed)) as client:
        assert create(client, auth, url="http://localhost:9/hook")["url"] == "http://localhost:9/hook"


def test_a_tenant_has_at_most_the_limit_of_webhooks(settings, auth, other_auth):
    limited = settings.model_copy(update={"webhook_max_per_tenant": 2})
    with TestClient(create_app(limited)) as client:
        first = create(client, auth)
        create(client, auth)
        refused = client.post("/v1/webhooks", json={"url": PUBLIC_URL, "events": ["run.failed"]}, headers=auth)
        assert "the most allowed" in problem(refused, 409, "webhook-limit")["detail"]
        create(client, other_auth)  # another tenant has its own limit
        assert client.delete(f"/v1/webhooks/{first['id']}", headers=auth).status_code == 204
        create(client, auth)


def test_another_tenants_webhook_is_not_found(client, auth, other_auth):
    created = create(client, auth)
    path = f"/v1/webhooks/{created['id']}"
    assert client.get(path, headers=other_auth).status_code == 404
    assert client.get(f"{path}/deliveries", headers=other_auth).status_code == 404
    assert client.post(f"{path}/ping", headers=other_auth).status_code == 404
    assert client.delete(path, headers=other_auth).status_code == 404
    assert created["id"] not in {item["id"] for item in client.get("/v1/webhooks", headers=other_auth).json()["items"]}
    assert client.get(path, headers=auth).status_code == 200


def test_a_ping_is_recorded_and_queued_and_deleting_removes_the_log(client, auth, settings, database_url):
    created = create(client, auth)
    ping = client.post(f"/v1/webhooks/{created['id']}/ping", headers=auth)
    assert ping.status_code == 202
    delivery = ping.json()
    assert (delivery["event"], delivery["status"], delivery["attempts"]) == ("webhook.ping", "pending", 0)
    assert json.loads(delivery["payload"])["data"] == {"webhook_id": created["id"]}
    assert delivery_messages(settings.broker_url) == [delivery["id"]]
    log = client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=auth).json()
    assert log["total"] == 1 and log["items"][0]["id"] == delivery["id"]
    assert client.delete(f"/v1/webhooks/{created['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/webhooks/{created['id']}", headers=auth).status_code == 404
    assert deliveries(database_url, created["id"]) == []


def test_cancelling_an_audit_notifies_the_subscribed_webhooks_only(
    client, auth, other_auth, settings, database_url, model_root
):
    subscribed = create(client, auth, events=["audit.cancelled"])
    elsewhere = create(client, auth, events=["audit.succeeded", "run.failed"])
    other_tenant = create(client, other_auth, events=["audit.cancelled"])
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    assert client.post(f"/v1/audits/{audit_id}/cancel", headers=auth).status_code == 200
    assert client.post(f"/v1/audits/{audit_id}/cancel", headers=auth).status_code == 200  # no second event
    (delivery,) = deliveries(database_url, subscribed["id"])
    assert deliveries(database_url, elsewhere["id"]) == deliveries(database_url, other_tenant["id"]) == []
    body = json.loads(delivery.payload)
    assert body["type"] == delivery.event == "audit.cancelled"
    assert body["data"]["audit_id"] == audit_id and body["data"]["status"] == "cancelled"
    assert delivery_messages(settings.broker_url) == [delivery.id]


def test_an_event_is_recorded_and_sent_only_if_its_transition_commits(client, auth, settings, database_url, model_root):
    webhook = create(client, auth, events=["audit.failed"])
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    with pytest.raises(RuntimeError), session_scope(database_url) as session:
        use_broker(session, settings.broker_url)
        fail(session, audit_id)
        raise RuntimeError("the transition rolls back")
    assert deliveries(database_url, webhook["id"]) == []
    assert delivery_messages(settings.broker_url) == []
    with session_scope(database_url) as session:
        use_broker(session, settings.broker_url)
        fail(session, audit_id)
    (delivery,) = deliveries(database_url, webhook["id"])
    assert delivery_messages(settings.broker_url) == [delivery.id]


def fail(session, audit_id: str) -> None:
    audit = session.get(Audit, audit_id)
    audit.status = "failed"
    webhooks.emit(session, audit)
