"""The one list query of audits and corpora: the tenant's rows, filtered, sorted, from an offset or a cursor."""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.orm import Session

from service.listing.query import Cursor, ListQuery
from service.models import Audit, Corpus

Listed = TypeVar("Listed", Audit, Corpus)


def list_page(
    session: Session, model: type[Listed], tenant_id: str, query: ListQuery, extra: Sequence[ColumnElement[bool]] = ()
) -> tuple[list[Listed], int, Cursor | None]:
    """One page of rows, the count of every matching row, and the cursor of the next page (None: the last)."""
    conditions = [model.tenant_id == tenant_id, *extra, *_common_filters(model, query)]
    total = session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    key = _sort_key(model, query)
    descending = query.sort.startswith("-")
    if query.after is not None:
        conditions.append(_past(key, model.id, query.after, descending))
    order = (key.desc(), model.id.desc()) if descending else (key.asc(), model.id.asc())
    statement = select(model).where(*conditions).order_by(*order).limit(query.limit + 1).offset(query.offset)
    rows = list(session.scalars(statement).all())
    if len(rows) <= query.limit:
        return rows, total, None
    last = rows[query.limit - 1]
    sort_value = last.created_at if query.sort.endswith("created_at") else last.name or ""
    return rows[: query.limit], total, Cursor(sort=query.sort, key=sort_value, id=last.id)


def _common_filters(model: type[Listed], query: ListQuery) -> list[ColumnElement[bool]]:
    conditions = [model.labels[key].as_string() == value for key, value in query.labels]
    if query.created_before is not None:
        conditions.append(model.created_at < query.created_before)
    if query.created_after is not None:
        conditions.append(model.created_at >= query.created_after)
    return conditions


def _sort_key(model: type[Listed], query: ListQuery) -> SQLColumnExpression[Any]:
    # unnamed rows sort as the empty name on every backend (SQLite and PostgreSQL place NULLs differently)
    return model.created_at if query.sort.endswith("created_at") else func.coalesce(model.name, "")


def _past(
    key: SQLColumnExpression[Any], id_column: SQLColumnExpression[str], cursor: Cursor, descending: bool
) -> ColumnElement[bool]:
    """Rows after the cursor's row in the page order (the id breaks ties)."""
    if descending:
        return or_(key < cursor.key, and_(key == cursor.key, id_column < cursor.id))
    return or_(key > cursor.key, and_(key == cursor.key, id_column > cursor.id))
