from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id


class ItemScore(Base):
    """One evaluation item of one variant: its score and the generated text kept as evidence."""

    __tablename__ = "item_scores"
    __table_args__ = (Index("ix_item_scores_lookup", "audit_id", "metric", "model", "item_index"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    precision_label: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    item_index: Mapped[int] = mapped_column()
    score: Mapped[float] = mapped_column()
    output: Mapped[str | None] = mapped_column(default=None)
    truth: Mapped[str | None] = mapped_column(default=None)
    prompt: Mapped[str | None] = mapped_column(default=None)
    truncated: Mapped[bool] = mapped_column(default=False)
