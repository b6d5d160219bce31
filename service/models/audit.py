from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id, utc_now
from service.models.states import AuditStatus


class Audit(Base):
    """One job: the validated spec (corpus replaced by its id), its status, and the final summary."""

    __tablename__ = "audits"
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    corpus_id: Mapped[str] = mapped_column(ForeignKey("corpora.id", ondelete="RESTRICT"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    labels: Mapped[dict] = mapped_column(default=dict)
    spec: Mapped[dict] = mapped_column()
    status: Mapped[AuditStatus] = mapped_column(default=AuditStatus.QUEUED, index=True)
    error: Mapped[str | None] = mapped_column(default=None)
    summary: Mapped[dict | None] = mapped_column(default=None)
    provenance: Mapped[dict | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # set by every write to the row; the API reports the latest of this and its runs' (service.audits.service)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
