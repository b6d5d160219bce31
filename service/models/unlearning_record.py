from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id


class UnlearningRecordRow(Base):
    """How the service made an unlearned model (UnlearningRecord JSON) and where its checkpoint is."""

    __tablename__ = "unlearning_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    checkpoint: Mapped[str] = mapped_column()
    record: Mapped[dict] = mapped_column()
