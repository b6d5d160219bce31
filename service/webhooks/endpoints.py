"""Webhook routes: thin; parsing and answering only (the rules are in service.webhooks.service)."""

from fastapi import APIRouter, Response

from service.deps import CurrentTenant, SessionDep, SettingsDep
from service.pagination import Page, PageDep
from service.problems import problem_responses
from service.webhooks import repository, service
from service.webhooks.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=problem_responses(401, 404, 409, 413, 422))

CREATE_DESCRIPTION = """Registers an endpoint for events, signed after the Standard Webhooks specification.

Events: `audit.succeeded`, `audit.failed`, `audit.cancelled` (data: audit_id, status, verdict, error,
created_at, finished_at) and `run.failed` (data: audit_id, run_id, kind, model, precision_label, error,
finished_at); the body is `{"type", "timestamp", "data"}`. Each request carries `webhook-id` (the same on every
attempt of a delivery: drop duplicates by it), `webhook-timestamp` (seconds since the epoch, of this attempt)
and `webhook-signature`: `v1,` + base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed
with the base64-decoded part of the secret after `whsec_`. The secret is in this answer only.

A receiver accepts with any 2xx; anything else (redirects are not followed), a timeout or a refused address is
retried with exponential backoff until a give-up time (settings `UNLEARN_AUDIT_WEBHOOK_*`). The URL's host must
resolve to public addresses only (checked now and again before each attempt)."""


@router.post("", response_model=WebhookCreated, status_code=201, description=CREATE_DESCRIPTION)
def create_webhook(
    session: SessionDep, settings: SettingsDep, tenant: CurrentTenant, request: WebhookIn, response: Response
) -> WebhookCreated:
    webhook, secret = service.create(session, settings, tenant, request)
    response.headers["Location"] = f"{router.prefix}/{webhook.id}"
    return WebhookCreated(**WebhookOut.model_validate(webhook).model_dump(), secret=secret)


@router.get("", response_model=Page[WebhookOut])
def list_webhooks(session: SessionDep, tenant: CurrentTenant, params: PageDep) -> Page[WebhookOut]:
    rows, total = repository.page(session, tenant.id, params.limit, params.offset)
    items = [WebhookOut.model_validate(row) for row in rows]
    return Page[WebhookOut](items=items, total=total, limit=params.limit, offset=params.offset)


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(session: SessionDep, tenant: CurrentTenant, webhook_id: str) -> WebhookOut:
    return WebhookOut.model_validate(service.get(session, tenant, webhook_id))


@router.delete("/{webhook_id}", status_code=204, description="Deletes the webhook and its delivery log.")
def delete_webhook(session: SessionDep, tenant: CurrentTenant, webhook_id: str) -> Response:
    repository.delete(session, service.get(session, tenant, webhook_id))
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[DeliveryOut],
    description="The webhook's deliveries, newest first, each with its latest attempts.",
)
def list_deliveries(session: SessionDep, tenant: CurrentTenant, webhook_id: str, params: PageDep) -> Page[DeliveryOut]:
    return service.deliveries(session, service.get(session, tenant, webhook_id), params)


@router.post(
    "/{webhook_id}/ping",
    response_model=DeliveryOut,
    status_code=202,
    description="Sends a `webhook.ping` event to the webhook (signed and retried as any event); follow it in "
    "the delivery log.",
)
def ping_webhook(session: SessionDep, tenant: CurrentTenant, webhook_id: str) -> DeliveryOut:
    return DeliveryOut.model_validate(service.ping(session, service.get(session, tenant, webhook_id)))
