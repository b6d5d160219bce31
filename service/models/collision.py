from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id


class Collision(Base):
    """Bucket collision of one unlearned model against the target under one quantizer (CollisionResult JSON)."""

    __tablename__ = "collisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    precision_label: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict] = mapped_column()
