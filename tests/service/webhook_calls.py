"""What the webhook tests do through the API and read from the broker: create a webhook, list the
delivery messages waiting on the real broker's queue."""

from service.queue import DELIVER_WEBHOOK_TASK
from tests.service.submissions import queued_messages

PUBLIC_URL = "http://93.184.215.14/hooks/audit"  # an address literal: no DNS needed to check it
ALL_EVENTS = ["audit.succeeded", "audit.failed", "audit.cancelled", "run.failed"]


def create(client, auth, url: str = PUBLIC_URL, events: list[str] | None = None, **extra) -> dict:
    body = {"url": url, "events": events or ALL_EVENTS, **extra}
    response = client.post("/v1/webhooks", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def delivery_messages(broker_url: str) -> list[str]:
    return [args[0] for task, args in queued_messages(broker_url, "cpu") if task == DELIVER_WEBHOOK_TASK]
