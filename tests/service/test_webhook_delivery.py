"""Delivery attempts against a real receiver on 127.0.0.1, on SQLite and PostgreSQL, made in this process
(the worker's code without Celery; test_webhooks_worker.py runs them in a real worker): the signature, retry
scheduling, redirects, timeouts, and the SSRF check again at delivery time, after resolving the host."""

import base64
import hashlib
import hmac
import json
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from service.config import Settings
from service.db import session_scope
from service.main import create_app
from service.models import WebhookDelivery
from service.queue import DELIVER_WEBHOOK_TASK
from service.webhooks import service as webhooks
from service.webhooks.signing_secrets import KEY_FILE
from tests.service.submissions import queued_messages
from tests.service.webhook_receiver import Receiver
from worker.webhooks import delivery


@pytest.fixture
def delivery_settings(settings):
    return settings.model_copy(
        update={"webhook_allow_private": True, "webhook_retry_base_s": 30.0, "webhook_timeout_s": 2.0}
    )


def pinged(settings, auth, url: str) -> tuple[str, str]:
    """A webhook to `url` (made while private addresses are allowed) and a ping: (secret, delivery id)."""
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    with TestClient(create_app(allowed)) as client:
        created = client.post("/v1/webhooks", json={"url": url, "events": ["run.failed"]}, headers=auth).json()
        return created["secret"], client.post(f"/v1/webhooks/{created['id']}/ping", headers=auth).json()["id"]


def row(database_url: str, delivery_id: str) -> WebhookDelivery:
    with session_scope(database_url) as session:
        return session.get(WebhookDelivery, delivery_id)


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The Standard Webhooks signature, computed here by hand from the specification."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_a_delivery_is_signed_as_the_specification_says(delivery_settings, auth, database_url):
    with Receiver([204]) as receiver:
        receiver.secret, delivery_id = pinged(delivery_settings, auth, receiver.url())
        delivery.attempt(delivery_settings, delivery_id)
    (received,) = receiver.received
    assert received.verified and received.path == "/hook"
    assert received.headers["webhook-id"] == delivery_id
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 30
    assert received.headers["webhook-signature"] == expected_signature(receiver.secret, received.headers, received.body)
    assert received.headers["content-type"] == "application/json"
    stored = row(database_url, delivery_id)
    assert received.body.decode() == stored.payload and json.loads(stored.payload)["type"] == "webhook.ping"
    assert (stored.status, stored.attempts, stored.next_attempt_at) == ("succeeded", 1, None)
    assert [(a["status_code"], a["error"]) for a in stored.attempt_log] == [(204, None)]


def test_a_failed_attempt_is_logged_and_the_next_one_scheduled_with_backoff(delivery_settings, auth, database_url):
    with Receiver([500]) as receiver:
        receiver.secret, delivery_id = pinged(delivery_settings, auth, receiver.url())
        queued_messages(delivery_settings.broker_url, "cpu")  # the ping's own message
        delivery.attempt(delivery_settings, delivery_id)
        failed_once = row(database_url, delivery_id)
        delivery.attempt(delivery_settings, delivery_id)  # a duplicate message before the retry is due
    assert len(receiver.received) == 1 and receiver.received[0].verified
    assert (failed_once.status, failed_once.attempts) == ("pending", 1)
    assert failed_once.attempt_log[0]["status_code"] == 500
    assert "HTTP 500" in failed_once.attempt_log[0]["error"]
    delay = failed_once.next_attempt_at - failed_once.created_at
    assert timedelta(seconds=29) < delay < timedelta(seconds=40)  # the base delay of 30 s
    assert row(database_url, delivery_id).attempts == 1
    (task, args), *_ = queued_messages(delivery_settings.broker_url, "cpu")
    assert (task, args) == (DELIVER_WEBHOOK_TASK, [delivery_id])
    assert webhooks.retry_delay_s(delivery_settings, 3) == 120.0


def test_redirects_are_not_followed(delivery_settings, auth, database_url):
    with Receiver([302]) as receiver:
        _secret, delivery_id = pinged(delivery_settings, auth, receiver.url())
        delivery.attempt(delivery_settings, delivery_id)
    assert [r.path for r in receiver.received] == ["/hook"]
    assert "HTTP 302 (redirects are not followed)" in row(database_url, delivery_id).attempt_log[0]["error"]


def test_a_receiver_that_does_not_answer_in_time_fails_the_attempt(delivery_settings, auth, database_url):
    hurried = delivery_settings.model_copy(update={"webhook_timeout_s": 0.5})
    with Receiver([204], delay_s=3.0) as receiver:
        _secret, delivery_id = pinged(delivery_settings, auth, receiver.url())
        started = time.monotonic()
        delivery.attempt(hurried, delivery_id)
        assert time.monotonic() - started < 2.5
    (logged,) = row(database_url, delivery_id).attempt_log
    assert logged["error"] == "no answer within 0.5 s" and logged["status_code"] is None


def test_a_host_resolving_to_a_private_address_is_refused_at_delivery(delivery_settings, auth, database_url):
    """Checked when created (here allowed), checked again after resolving the host for each attempt (not
    allowed any more): a name that resolves to a private address later (DNS rebinding) is refused then."""
    strict = delivery_settings.model_copy(update={"webhook_allow_private": False, "webhook_give_up_s": 1.0})
    with Receiver([204]) as receiver:
        _secret, delivery_id = pinged(delivery_settings, auth, receiver.url(host="localhost"))
        delivery.attempt(strict, delivery_id)
    assert receiver.received == []
    stored = row(database_url, delivery_id)
    (logged,) = stored.attempt_log
    assert logged["error"].startswith("refused: 'localhost' resolves to") and "loopback" in logged["error"]
    assert stored.status == "failed" and stored.finished_at is not None  # the next attempt was past give-up


def test_an_attempt_under_way_is_not_made_twice(delivery_settings, auth, database_url):
    _secret, delivery_id = pinged(delivery_settings, auth, "http://127.0.0.1:9/hook")
    with session_scope(database_url) as session:
        assert webhooks.claim_attempt(session, delivery_settings, delivery_id) is not None
    with session_scope(database_url) as session:
        assert webhooks.claim_attempt(session, delivery_settings, delivery_id) is None
    assert row(database_url, delivery_id).attempts == 1


def test_a_worker_with_another_secret_key_says_why_it_cannot_sign(delivery_settings, auth, database_url):
    other_key = delivery_settings.model_copy(update={"webhook_secret_key": SecretStr(Fernet.generate_key().decode())})
    with Receiver([204]) as receiver:
        _secret, delivery_id = pinged(delivery_settings, auth, receiver.url())
        delivery.attempt(other_key, delivery_id)
    assert receiver.received == []
    (logged,) = row(database_url, delivery_id).attempt_log
    assert logged["error"].startswith("SecretKeyError: UNLEARN_AUDIT_WEBHOOK_SECRET_KEY: this key did not encrypt")


def test_the_default_key_file_is_private_and_a_bad_key_setting_is_refused(delivery_settings, auth):
    pinged(delivery_settings, auth, "http://127.0.0.1:9/hook")
    key_file = Path(delivery_settings.data_dir) / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(ValidationError, match=r"webhook_secret_key\n.*32 bytes once decoded, not 5"):
        Settings(webhook_secret_key="c2hvcnQ=")
