from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id, utc_now


class Corpus(Base):
    """A validated corpus bundle, content-addressed: stored once per tenant by its sha256."""

    __tablename__ = "corpora"
    __table_args__ = (UniqueConstraint("tenant_id", "sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    labels: Mapped[dict] = mapped_column(default=dict)
    document: Mapped[dict] = mapped_column(deferred=True)  # loaded only when read: lists never carry it
    parts: Mapped[dict] = mapped_column(default=dict)
    size_bytes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
