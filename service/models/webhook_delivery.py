from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id, utc_now
from service.models.states import DeliveryStatus


class WebhookDelivery(Base):
    """One event for one webhook: the exact body every attempt sends, and how the attempts went.

    The id is the `webhook-id` header (the same on every attempt, so that receivers can drop duplicates).
    While an attempt is under way, next_attempt_at is the end of its lease: a duplicate message waits for it.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_log: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
