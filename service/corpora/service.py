"""Corpus rules: validate a bundle with the shared validator, store it once per tenant by content address.

An upload is parsed once and stored as parsed: the checked document is the stored one (no second copy of
its items is built), and a body with more objects than the item limit allows is refused while it is parsed.
"""

import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import quotas
from service.corpora import repository
from service.corpora.schemas import CorpusOut
from service.errors import ConflictError, FieldError, NotFoundError
from service.listing.query import Cursor, ListQuery
from service.listing.repository import list_page
from service.models import Corpus
from service.pagination import Page
from service.specs.corpus import (
    BundleDocument,
    CorpusError,
    CorpusProblem,
    check_document,
    content_address,
    part_counts,
)

ENVELOPE_OBJECTS = 8  # the document and its folders: objects of an upload that are not items


def decode_upload(body: bytes, max_items: int) -> Any:
    """The JSON body, parsed once; refused as soon as it holds more objects than `max_items` items can have."""
    objects = 0

    def counted(value: dict[str, Any]) -> dict[str, Any]:
        nonlocal objects
        objects += 1
        if objects > max_items + ENVELOPE_OBJECTS:
            raise CorpusError([CorpusProblem("corpus", None, f"more than {max_items} items, the limit per bundle")])
        return value

    try:
        return json.loads(body, object_hook=counted)
    except CorpusError as error:
        raise _field_error(error, ()) from None
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, or nested beyond the parser's depth
        raise FieldError([((), f"not a valid JSON document: {error}")]) from None


def validate_bundle(document: Any, location: tuple[str | int, ...], max_items: int | None) -> BundleDocument:
    """The checked document, or a FieldError naming the part, the item index and the reason of every problem."""
    try:
        return check_document(document, source="corpus", max_items=max_items)
    except CorpusError as error:
        raise _field_error(error, location) from None


def _field_error(error: CorpusError, location: tuple[str | int, ...]) -> FieldError:
    problems = []
    for problem in error.problems:
        part = [] if problem.file == "corpus" else problem.file.split("/")
        index = [] if problem.index is None else [problem.index]
        problems.append(((*location, *part, *index), problem.reason))
    return FieldError(problems)


def store_bundle(
    session: Session,
    tenant_id: str,
    document: BundleDocument,
    name: str | None,
    labels: dict[str, str],
    max_tenant_bytes: int,
) -> tuple[Corpus, bool]:
    """The tenant's corpus with this content (created when new, with this name and these labels, within the
    tenant's corpus quota) and whether it was created now."""
    sha256, size_bytes = content_address(document)
    existing = repository.by_sha256(session, tenant_id, sha256)
    if existing is not None:
        return existing, False
    quotas.check_corpus_bytes(session, tenant_id, size_bytes, max_tenant_bytes)
    corpus = Corpus(
        tenant_id=tenant_id,
        sha256=sha256,
        name=name,
        labels=labels,
        document=document,
        parts=part_counts(document),
        size_bytes=size_bytes,
    )
    try:
        with session.begin_nested():
            repository.add(session, corpus)
    except IntegrityError:  # the same bundle uploaded concurrently: the other request stored it
        return repository.by_sha256(session, tenant_id, sha256), False  # type: ignore[return-value]
    return corpus, True


def page(session: Session, tenant_id: str, query: ListQuery) -> tuple[Page[CorpusOut], Cursor | None]:
    """A page of the tenant's corpora and the cursor of the next page."""
    rows, total, following = list_page(session, Corpus, tenant_id, query)
    items = [CorpusOut.model_validate(row) for row in rows]
    return Page[CorpusOut](items=items, total=total, limit=query.limit, offset=query.offset), following


def get(session: Session, tenant_id: str, corpus_id: str) -> Corpus:
    corpus = repository.by_id(session, tenant_id, corpus_id)
    if corpus is None:
        raise NotFoundError("corpus", corpus_id)
    return corpus


def delete(session: Session, tenant_id: str, corpus_id: str) -> None:
    corpus = get(session, tenant_id, corpus_id)
    users = repository.audits_using(session, corpus.id)
    if users:
        raise ConflictError("corpus-in-use", f"corpus '{corpus_id}' is used by {users} audit(s): delete them first")
    repository.delete(session, corpus)
