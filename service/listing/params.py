"""The query parameters every list route shares, read into a ListQuery, and the `next` link of a page."""

from collections.abc import Callable
from datetime import UTC
from typing import Annotated, NoReturn, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BeforeValidator

from service.listing.query import Cursor, ListQuery, Sort
from service.pagination import MAX_PAGE_SIZE
from service.specs.labels import label_pair

Parsed = TypeVar("Parsed")


def comma_separated(value: list[str] | None) -> list[str] | None:
    """A repeated parameter whose values may also be comma-separated: `?status=a,b&status=c`."""
    return None if value is None else [name.strip() for item in value for name in item.split(",") if name.strip()]


def list_query(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9, description="items to skip")] = 0,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="where the page starts: from the previous page's `next` link")
    ] = None,
    sort: Annotated[Sort, Query(description="`-created_at` (newest first), `created_at`, `name` or `-name`")] = (
        "-created_at"
    ),
    label: Annotated[
        list[str] | None, Query(max_length=300, description="`key:value`; repeated: every label must match")
    ] = None,
    created_before: Annotated[AwareDatetime | None, Query(description="ISO 8601 with a zone")] = None,
    created_after: Annotated[AwareDatetime | None, Query(description="ISO 8601 with a zone (inclusive)")] = None,
) -> ListQuery:
    after = _field("cursor", Cursor.decode, cursor) if cursor is not None else None
    if after is not None and after.sort != sort:
        refuse_query("cursor", f"made for sort={after.sort}, not sort={sort}: follow the `next` link as it is")
    if after is not None and offset:
        refuse_query("offset", "give either offset or cursor, not both")
    return ListQuery(
        limit=limit,
        offset=offset,
        after=after,
        sort=sort,
        labels=tuple(_field("label", label_pair, text) for text in label or []),
        created_before=created_before.astimezone(UTC) if created_before else None,
        created_after=created_after.astimezone(UTC) if created_after else None,
    )


def _field(name: str, parse: Callable[[str], Parsed], text: str) -> Parsed:
    try:
        return parse(text)
    except ValueError as error:
        refuse_query(name, str(error))


def refuse_query(name: str, reason: str) -> NoReturn:
    """422 naming the query parameter and the reason."""
    raise RequestValidationError([{"loc": ("query", name), "msg": reason, "type": "value_error"}])


def next_link(request: Request, response: Response, cursor: Cursor | None) -> str | None:
    """The URL of the next page (the same query from the cursor on), also sent as a `Link` header."""
    if cursor is None:
        return None
    url = request.url.remove_query_params("offset").include_query_params(cursor=cursor.encode())
    link = f"{url.path}?{url.query}"
    response.headers["Link"] = f'<{link}>; rel="next"'
    return link


ListQueryDep = Annotated[ListQuery, Depends(list_query)]
CommaSeparated = BeforeValidator(comma_separated)
