"""Every query on audits and their results (the runs' own queries are in service.runs.repository)."""

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from service.listing.query import Cursor, ListQuery
from service.listing.repository import list_page
from service.models import Audit, Collision, ItemScore, Result, Run, UnlearningRecordRow
from service.models.states import AuditStatus
from service.specs.metrics import KNOWLEDGE_METRICS
from service.specs.naming import TARGET_NAME
from service.specs.report import ItemRecord


@dataclass(frozen=True)
class ItemFilter:
    model: str | None = None
    precision_label: str | None = None
    metric: str | None = None
    # True: only the forget items of unlearned models that rose, i.e. score above the same model's score on the
    # same item at full precision by more than `item_rise` (the audit's policy); False: every other item
    rose: bool | None = None
    item_rise: float = 0.1


@dataclass(frozen=True)
class AuditFilter:
    """What only audits are filtered on (any of the statuses, any of the verdicts); the rest is a ListQuery."""

    statuses: tuple[AuditStatus, ...] = ()
    verdicts: tuple[str, ...] = ()


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
    session: Session, tenant_id: str, audit_filter: AuditFilter, query: ListQuery
) -> tuple[list[Audit], int, Cursor | None]:
    conditions = []
    if audit_filter.statuses:
        conditions.append(Audit.status.in_(audit_filter.statuses))
    if audit_filter.verdicts:
        conditions.append(Audit.summary["verdict"].as_string().in_(audit_filter.verdicts))
    return list_page(session, Audit, tenant_id, query, conditions)


def audit_by_id(session: Session, audit_id: str, lock: bool = False) -> Audit | None:
    query = select(Audit).where(Audit.id == audit_id)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def existing_audit_ids(session: Session, audit_ids: list[str]) -> set[str]:
    return set(session.scalars(select(Audit.id).where(Audit.id.in_(audit_ids))))


def open_audit_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Audit.id).where(Audit.status.in_(AuditStatus.open()))))


def results_of(session: Session, audit_id: str) -> list[Result]:
    return list(session.scalars(select(Result).where(Result.audit_id == audit_id)).all())


def collisions_of(session: Session, audit_id: str) -> list[Collision]:
    return list(session.scalars(select(Collision).where(Collision.audit_id == audit_id)).all())


def known_target_digest(session: Session, audit_id: str, precision_label: str) -> str | None:
    """The target's state digest at a precision, from a collision of this audit already stored (any model)."""
    query = select(Collision.result).where(Collision.audit_id == audit_id, Collision.precision_label == precision_label)
    return next((result["target_digest"] for result in session.scalars(query) if result.get("target_digest")), None)


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


def item_scores_of(session: Session, audit_id: str, metrics: list[str]) -> list[ItemRecord]:
    """Only what the verdicts' paired intervals need of these metrics' items: no generated text."""
    columns = (ItemScore.model, ItemScore.precision_label, ItemScore.metric, ItemScore.item_index, ItemScore.score)
    query = select(*columns).where(ItemScore.audit_id == audit_id, ItemScore.metric.in_(metrics))
    return [
        ItemRecord(model=model, precision_label=label, metric=metric, index=index, score=score)
        for model, label, metric, index, score in session.execute(query)
    ]


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
        rose = and_(
            ItemScore.precision_label != "full",
            ItemScore.model != TARGET_NAME,
            ItemScore.metric.in_(KNOWLEDGE_METRICS),
            full.score.is_not(None),
            ItemScore.score > full.score + item_filter.item_rise,
        )
        query = query.where(rose if item_filter.rose else ~rose)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(ItemScore.metric, ItemScore.model, ItemScore.precision_label, ItemScore.item_index)
    rows = session.execute(ordered.limit(limit).offset(offset)).all()
    return [(row[0], row[1]) for row in rows], total


def delete_audit(session: Session, audit: Audit) -> None:
    session.delete(audit)
    session.flush()
