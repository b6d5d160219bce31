from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id
from service.specs.report import ItemRecord
from service.specs.text import storable


class ItemScore(Base):
    """One evaluation item of one variant, stored: an ItemRecord (its fields are these columns) and its run."""

    __tablename__ = "item_scores"
    __table_args__ = (Index("ix_item_scores_lookup", "audit_id", "metric", "model", "item_index"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    precision_label: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    item_index: Mapped[int] = mapped_column()  # ItemRecord.index
    score: Mapped[float] = mapped_column()
    output: Mapped[str | None] = mapped_column(default=None)
    truth: Mapped[str | None] = mapped_column(default=None)
    prompt: Mapped[str | None] = mapped_column(default=None)
    truncated: Mapped[bool] = mapped_column(default=False)
    label: Mapped[int | None] = mapped_column(default=None)  # null in rows stored before labels were kept

    @classmethod
    def from_record(cls, record: ItemRecord, run_id: str, audit_id: str) -> "ItemScore":
        """Generated output is made storable: a model may write a NUL, which PostgreSQL refuses."""
        fields = record.model_dump(exclude={"index"})
        if record.output is not None:
            fields["output"] = storable(record.output)
        return cls(run_id=run_id, audit_id=audit_id, item_index=record.index, **fields)

    def to_record(self) -> ItemRecord:
        fields = {name: getattr(self, name) for name in ItemRecord.model_fields if name != "index"}
        return ItemRecord(index=self.item_index, **fields)
