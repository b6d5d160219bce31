from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id, utc_now
from service.models.states import RunKind, RunStatus


class Run(Base):
    """The unit of work a worker executes: evaluate one variant, compare one pair's codes, or unlearn.

    Keyed by (audit, kind, model, precision) so that a re-delivered task finds its own row. `waiting` runs
    belong to a model that an unlearning run of the same audit has not produced yet.
    """

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("audit_id", "kind", "model", "precision_label"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RunKind] = mapped_column()
    model: Mapped[str] = mapped_column(String(64))
    precision_label: Mapped[str] = mapped_column(String(64))
    precision: Mapped[dict] = mapped_column()
    status: Mapped[RunStatus] = mapped_column(default=RunStatus.QUEUED)
    stage: Mapped[str | None] = mapped_column(String(64), default=None)
    share_done: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # set by every write to the row, progress included, so that progress never writes the audit's row too
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
