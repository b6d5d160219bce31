"""The webhooks API's shapes, and the events' bodies (Standard Webhooks: {type, timestamp, data})."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints, field_validator

from service.models.states import DeliveryStatus
from service.specs.base import SpecModel

WebhookEvent = Literal["audit.succeeded", "audit.failed", "audit.cancelled", "run.failed"]
WEBHOOK_EVENTS: tuple[str, ...] = WebhookEvent.__args__  # type: ignore[attr-defined]
PING_EVENT = "webhook.ping"  # sent by POST /v1/webhooks/{id}/ping only; not subscribable

WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]


class WebhookIn(SpecModel):
    """A spec shape like the audit's: unknown keys refused, no coercion, storable text only."""

    url: WebhookUrl = Field(description="http(s) URL of a public host; redirects are not followed")
    events: list[WebhookEvent] = Field(min_length=1, description="the events to receive")
    description: str | None = Field(None, max_length=500)

    @field_validator("events")
    @classmethod
    def _once_each(cls, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[WebhookEvent]
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="the signing secret (`whsec_` + base64), shown in this answer only: verify each delivery's "
        "`webhook-signature` with it (HMAC-SHA256 of `webhook-id.webhook-timestamp.body`)"
    )


class AttemptOut(BaseModel):
    number: int
    at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status; null when none was received")
    error: str | None = Field(description="why the attempt failed; null when the receiver answered 2xx")
    duration_ms: float


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="the `webhook-id` header: the same on every attempt")
    event: str
    status: DeliveryStatus
    attempts: int
    attempt_log: list[AttemptOut] = Field(description="the latest attempts, oldest first")
    payload: str = Field(description="the exact body sent (JSON)")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried next")
    finished_at: datetime | None


class AuditEventData(BaseModel):
    audit_id: str
    status: str
    verdict: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class RunEventData(BaseModel):
    audit_id: str
    run_id: str
    kind: str
    model: str
    precision_label: str
    error: str | None
    finished_at: datetime | None


class PingData(BaseModel):
    webhook_id: str


class EventBody(BaseModel):
    type: str = Field(description="the event, e.g. audit.succeeded")
    timestamp: datetime = Field(description="when the event happened")
    data: AuditEventData | RunEventData | PingData
