from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id


class Result(Base):
    """The metrics of one evaluated variant: a service.specs.report.VariantResult as JSON."""

    __tablename__ = "results"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    variant: Mapped[dict] = mapped_column()
    model_provenance: Mapped[dict | None] = mapped_column(default=None, doc="ModelProvenance of the loaded model")
    cache_key: Mapped[str | None] = mapped_column(
        String(64), default=None, index=True, doc="service.specs.cache_key.result_key; null: not reusable"
    )
