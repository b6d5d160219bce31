"""Webhook rules: who may call what, which events a transition causes, and how deliveries are retried."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from service.audits import repository as audits_repository
from service.audits.report import stated_summary
from service.config import Settings
from service.errors import ConflictError, FieldError, NotFoundError
from service.models import Audit, Run, Tenant, Webhook, WebhookDelivery
from service.models.base import utc_now
from service.models.states import DeliveryStatus
from service.pagination import Page, PageParams
from service.queue import DELIVER_WEBHOOK_TASK, Message, broker_of, enqueue_after_commit
from service.webhooks import repository
from service.webhooks.destinations import DestinationError, check_url
from service.webhooks.schemas import (
    PING_EVENT,
    WEBHOOK_EVENTS,
    AttemptOut,
    AuditEventData,
    DeliveryOut,
    EventBody,
    PingData,
    RunEventData,
    WebhookIn,
)
from service.webhooks.signing_secrets import new_secret, seal

MAX_LOGGED_ATTEMPTS = 20  # a delivery keeps its latest attempts; `attempts` counts them all
CLOCK_TOLERANCE_S = 5.0  # a retry message may arrive this early (clocks of different hosts)
LEASE_MARGIN_S = 30.0  # beyond the attempt's timeout, before a duplicate message may try again


@dataclass(frozen=True)
class ClaimedAttempt:
    """What a worker needs to make one attempt (plain values: no session is held while it sends)."""

    delivery_id: str
    number: int
    url: str
    sealed_secret: str
    payload: str


def create(session: Session, settings: Settings, tenant: Tenant, request: WebhookIn) -> tuple[Webhook, str]:
    """The new webhook and its signing secret (returned this once, stored encrypted)."""
    url = str(request.url)
    try:
        check_url(url, settings.webhook_allow_private)
    except DestinationError as error:
        raise FieldError([(("url",), str(error))]) from error
    repository.lock_tenant(session, tenant.id)
    count = repository.count_of_tenant(session, tenant.id)
    if count >= settings.webhook_max_per_tenant:
        raise ConflictError(
            "webhook-limit",
            f"webhooks: this tenant has {count}, the most allowed (UNLEARN_AUDIT_WEBHOOK_MAX_PER_TENANT); "
            "delete one first",
        )
    secret = new_secret()
    webhook = Webhook(
        tenant_id=tenant.id,
        url=url,
        events=list(request.events),
        description=request.description,
        sealed_secret=seal(settings, secret),
    )
    return repository.add(session, webhook), secret


def get(session: Session, tenant: Tenant, webhook_id: str) -> Webhook:
    webhook = repository.by_id(session, tenant.id, webhook_id)
    if webhook is None:
        raise NotFoundError("webhook", webhook_id)
    return webhook


def deliveries(session: Session, webhook: Webhook, params: PageParams) -> Page[DeliveryOut]:
    rows, total = repository.delivery_page(session, webhook.id, params.limit, params.offset)
    items = [DeliveryOut.model_validate(row) for row in rows]
    return Page[DeliveryOut](items=items, total=total, limit=params.limit, offset=params.offset)


def emit(session: Session, subject: Audit | Run) -> None:
    """Record the event of the subject's new status (`audit.<status>`, `run.<status>`) for each webhook of its
    tenant that subscribed to it, in the caller's transaction: call it right after the transition. Each
    delivery is sent to the workers once that transaction commits, and never when it rolls back."""
    kind = "audit" if isinstance(subject, Audit) else "run"
    event = f"{kind}.{subject.status}"
    if event not in WEBHOOK_EVENTS:
        return
    audit = subject if isinstance(subject, Audit) else audits_repository.audit_by_id(session, subject.audit_id)
    if audit is None:
        return
    subscribed = [webhook for webhook in repository.of_tenant(session, audit.tenant_id) if event in webhook.events]
    if not subscribed:
        return
    data = _audit_data(audit) if isinstance(subject, Audit) else _run_data(subject)
    body = EventBody(type=event, timestamp=utc_now(), data=data).model_dump_json()
    for webhook in subscribed:
        _record(session, webhook, event, body)


def ping(session: Session, webhook: Webhook) -> WebhookDelivery:
    """A test event for this webhook, delivered (and retried) as any other."""
    body = EventBody(type=PING_EVENT, timestamp=utc_now(), data=PingData(webhook_id=webhook.id)).model_dump_json()
    return _record(session, webhook, PING_EVENT, body)


def _audit_data(audit: Audit) -> AuditEventData:
    return AuditEventData(
        audit_id=audit.id,
        status=audit.status,
        verdict=(stated_summary(audit) or {}).get("verdict"),
        error=audit.error,
        created_at=audit.created_at,
        finished_at=audit.finished_at,
    )


def _run_data(run: Run) -> RunEventData:
    return RunEventData(
        audit_id=run.audit_id,
        run_id=run.id,
        kind=run.kind,
        model=run.model,
        precision_label=run.precision_label,
        error=run.error,
        finished_at=run.finished_at,
    )


def _record(session: Session, webhook: Webhook, event: str, body: str) -> WebhookDelivery:
    delivery = WebhookDelivery(webhook_id=webhook.id, event=event, payload=body, next_attempt_at=utc_now())
    repository.add_delivery(session, delivery)
    enqueue_after_commit(session, broker_of(session), delivery_message(delivery.id))
    return delivery


def delivery_message(delivery_id: str, countdown_s: float | None = None) -> Message:
    return Message(DELIVER_WEBHOOK_TASK, (delivery_id,), countdown_s)


def claim_attempt(session: Session, settings: Settings, delivery_id: str) -> ClaimedAttempt | None:
    """The next attempt of a pending, due delivery, leased to this worker; None when there is none to make."""
    now = utc_now()
    lease = timedelta(seconds=settings.webhook_timeout_s + LEASE_MARGIN_S)
    if not repository.take_attempt(session, delivery_id, now + timedelta(seconds=CLOCK_TOLERANCE_S), now + lease):
        return None
    delivery = repository.delivery_by_id(session, delivery_id)
    webhook = repository.webhook_of(session, delivery) if delivery else None
    if delivery is None or webhook is None:
        return None
    return ClaimedAttempt(delivery.id, delivery.attempts, webhook.url, webhook.sealed_secret, delivery.payload)


def record_attempt(session: Session, settings: Settings, delivery_id: str, attempt: AttemptOut) -> None:
    """Log the attempt; after a failure, schedule the next one (sent after commit) or give up."""
    delivery = repository.delivery_by_id(session, delivery_id)
    if delivery is None:
        return  # its webhook was deleted meanwhile
    delivery.attempt_log = [*delivery.attempt_log, attempt.model_dump(mode="json")][-MAX_LOGGED_ATTEMPTS:]
    now = utc_now()
    if attempt.error is None:
        delivery.status, delivery.next_attempt_at, delivery.finished_at = DeliveryStatus.SUCCEEDED, None, now
        return
    delay_s = retry_delay_s(settings, delivery.attempts)
    next_attempt_at = now + timedelta(seconds=delay_s)
    if next_attempt_at > delivery.created_at + timedelta(seconds=settings.webhook_give_up_s):
        delivery.status, delivery.next_attempt_at, delivery.finished_at = DeliveryStatus.FAILED, None, now
        return
    delivery.next_attempt_at = next_attempt_at
    enqueue_after_commit(session, str(settings.broker_url), delivery_message(delivery.id, delay_s))


def retry_delay_s(settings: Settings, attempts_made: int) -> float:
    """Exponential backoff: the base delay after the first failure, doubled after each one, up to the maximum."""
    return min(settings.webhook_retry_base_s * 2.0 ** min(attempts_made - 1, 60), settings.webhook_retry_max_s)
