"""Every query on webhooks and their deliveries."""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from service.models import Tenant, Webhook, WebhookDelivery
from service.models.states import DeliveryStatus


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Serialises a tenant's webhook creations (PostgreSQL), so that two at once cannot pass its limit."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def count_of_tenant(session: Session, tenant_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Webhook).where(Webhook.tenant_id == tenant_id)) or 0


def add(session: Session, webhook: Webhook) -> Webhook:
    session.add(webhook)
    session.flush()
    return webhook


def by_id(session: Session, tenant_id: str, webhook_id: str) -> Webhook | None:
    query = select(Webhook).where(Webhook.id == webhook_id, Webhook.tenant_id == tenant_id)
    return session.scalars(query).one_or_none()


def of_tenant(session: Session, tenant_id: str) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.tenant_id == tenant_id)).all())


def page(session: Session, tenant_id: str, limit: int, offset: int) -> tuple[list[Webhook], int]:
    total = count_of_tenant(session, tenant_id)
    query = select(Webhook).where(Webhook.tenant_id == tenant_id).order_by(Webhook.created_at.desc(), Webhook.id)
    return list(session.scalars(query.limit(limit).offset(offset)).all()), total


def delete(session: Session, webhook: Webhook) -> None:
    session.delete(webhook)
    session.flush()


def add_delivery(session: Session, delivery: WebhookDelivery) -> WebhookDelivery:
    session.add(delivery)
    session.flush()
    return delivery


def delivery_page(session: Session, webhook_id: str, limit: int, offset: int) -> tuple[list[WebhookDelivery], int]:
    condition = WebhookDelivery.webhook_id == webhook_id
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(condition)) or 0
    query = select(WebhookDelivery).where(condition)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit).offset(offset)
    return list(session.scalars(query).all()), total


def delivery_by_id(session: Session, delivery_id: str) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def webhook_of(session: Session, delivery: WebhookDelivery) -> Webhook | None:
    return session.get(Webhook, delivery.webhook_id)


def take_attempt(session: Session, delivery_id: str, due_by: datetime, lease_until: datetime) -> bool:
    """Count one more attempt and lease the delivery until `lease_until`, if it is pending and due by `due_by`;
    False when it is not (finished, deleted, not due yet, or under way elsewhere)."""
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= due_by,
        )
        .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=lease_until)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1
