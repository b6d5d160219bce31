"""Every query on audits and their results (the runs' own queries are in service.runs.repository)."""

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from service.models import Audit, Collision, ItemScore, Result, Run, UnlearningRecordRow
from service.models.states import AuditStatus


@dataclass(frozen=True)
class ItemFilter:
    model: str | None = None
    precision_label: str | None = None
    metric: str | None = None
    rose: bool | None = None  # True: only items whose score is above the same model's full-precision score


def by_id(session: Session, tenant_id: str, audit_id: str) -> Audit | None:
    return session.scalars(select(Audit).where(Audit.id == audit_id, Audit.tenant_id == tenant_id)).one_or_none()


def by_idempotency_key(session: Session, tenant_id: str, key: str) -> Audit | None:
    query = select(Audit).where(Audit.tenant_id == tenant_id, Audit.idempotency_key == key)
    return session.scalars(query).one_or_none()


def add(session: Session, audit: Audit, runs: list[Run]) -> None:
    session.add(audit)
    session.flush()
    for run in runs:
        run.audit_id = audit.id
    session.add_all(runs)
    session.flush()


def page(
    session: Session, tenant_id: str, status: AuditStatus | None, limit: int, offset: int
) -> tuple[list[Audit], int]:
    conditions = [Audit.tenant_id == tenant_id] + ([Audit.status == status] if status else [])
    total = session.scalar(select(func.count()).select_from(Audit).where(*conditions)) or 0
    query = select(Audit).where(*conditions).order_by(Audit.created_at.desc(), Audit.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)).all()), total


def audit_by_id(session: Session, audit_id: str, lock: bool = False) -> Audit | None:
    query = select(Audit).where(Audit.id == audit_id)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def open_audit_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Audit.id).where(Audit.status.in_(AuditStatus.open()))))


def results_of(session: Session, audit_id: str) -> list[Result]:
    return list(session.scalars(select(Result).where(Result.audit_id == audit_id)).all())


def collisions_of(session: Session, audit_id: str) -> list[Collision]:
    return list(session.scalars(select(Collision).where(Collision.audit_id == audit_id)).all())


def unlearning_records_of(session: Session, audit_id: str) -> list[UnlearningRecordRow]:
    return list(session.scalars(select(UnlearningRecordRow).where(UnlearningRecordRow.audit_id == audit_id)).all())


def cached_result(session: Session, tenant_id: str, cache_key: str) -> Result | None:
    """A result of this tenant's audits stored under `cache_key` (the result cache is never shared)."""
    query = (
        select(Result)
        .join(Audit, Audit.id == Result.audit_id)
        .where(Audit.tenant_id == tenant_id, Result.cache_key == cache_key)
        .limit(1)
    )
    return session.scalars(query).first()


def items_of_run(session: Session, run_id: str) -> list[ItemScore]:
    return list(session.scalars(select(ItemScore).where(ItemScore.run_id == run_id).order_by(ItemScore.id)).all())


def items_of(session: Session, audit_id: str) -> list[ItemScore]:
    """In no particular order: the report puts them in the spec's order."""
    return list(session.scalars(select(ItemScore).where(ItemScore.audit_id == audit_id)).all())


def item_page(
    session: Session, audit_id: str, item_filter: ItemFilter, limit: int, offset: int
) -> tuple[list[tuple[ItemScore, float | None]], int]:
    """Items with the same model's score on the same item at full precision, filtered and paginated."""
    full = aliased(ItemScore)
    full_score = full.score.label("full_score")
    query = (
        select(ItemScore, full_score)
        .outerjoin(
            full,
            and_(
                full.audit_id == ItemScore.audit_id,
                full.model == ItemScore.model,
                full.metric == ItemScore.metric,
                full.item_index == ItemScore.item_index,
                full.precision_label == "full",
            ),
        )
        .where(ItemScore.audit_id == audit_id)
    )
    for column, value in (
        (ItemScore.model, item_filter.model),
        (ItemScore.precision_label, item_filter.precision_label),
        (ItemScore.metric, item_filter.metric),
    ):
        if value is not None:
            query = query.where(column == value)
    if item_filter.rose is not None:
        rose = and_(ItemScore.precision_label != "full", full.score.is_not(None), ItemScore.score > full.score)
        query = query.where(rose if item_filter.rose else ~rose)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(ItemScore.metric, ItemScore.model, ItemScore.precision_label, ItemScore.item_index)
    rows = session.execute(ordered.limit(limit).offset(offset)).all()
    return [(row[0], row[1]) for row in rows], total


def delete_audit(session: Session, audit: Audit) -> None:
    session.delete(audit)
    session.flush()
