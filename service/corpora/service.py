"""Corpus rules: validate a bundle with the shared validator, store it once per tenant by content address."""

import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.corpora import repository
from service.corpora.schemas import CorpusOut
from service.errors import ConflictError, FieldError, NotFoundError
from service.models import Corpus
from service.pagination import Page, PageParams
from service.specs.corpus import CorpusBundle, CorpusError, parse_bundle


def validate_bundle(document: Any, location: tuple[str | int, ...]) -> CorpusBundle:
    """The bundle, or a FieldError naming the part, the item index and the reason of every problem."""
    try:
        return parse_bundle(document, source="corpus")
    except CorpusError as error:
        problems = [
            ((*location, *problem.file.split("/"), *([] if problem.index is None else [problem.index])), problem.reason)
            for problem in error.problems
        ]
        raise FieldError(problems) from None


def store_bundle(session: Session, tenant_id: str, bundle: CorpusBundle, name: str | None) -> tuple[Corpus, bool]:
    """The tenant's corpus with this content (created when new) and whether it was created now."""
    sha256 = bundle.sha256
    existing = repository.by_sha256(session, tenant_id, sha256)
    if existing is not None:
        return existing, False
    document = bundle.to_document()
    corpus = Corpus(
        tenant_id=tenant_id,
        sha256=sha256,
        name=name,
        document=document,
        parts=bundle.summary(),
        size_bytes=len(json.dumps(document, ensure_ascii=False).encode("utf-8")),
    )
    try:
        with session.begin_nested():
            repository.add(session, corpus)
    except IntegrityError:  # the same bundle uploaded concurrently: the other request stored it
        return repository.by_sha256(session, tenant_id, sha256), False  # type: ignore[return-value]
    return corpus, True


def page(session: Session, tenant_id: str, params: PageParams) -> Page[CorpusOut]:
    """The tenant's corpora, newest first."""
    rows, total = repository.page(session, tenant_id, params.limit, params.offset)
    items = [CorpusOut.model_validate(row) for row in rows]
    return Page[CorpusOut](items=items, total=total, limit=params.limit, offset=params.offset)


def get(session: Session, tenant_id: str, corpus_id: str) -> Corpus:
    corpus = repository.by_id(session, tenant_id, corpus_id)
    if corpus is None:
        raise NotFoundError("corpus", corpus_id)
    return corpus


def delete(session: Session, tenant_id: str, corpus_id: str) -> None:
    corpus = get(session, tenant_id, corpus_id)
    users = repository.audits_using(session, corpus.id)
    if users:
        raise ConflictError(f"corpus '{corpus_id}' is used by {users} audit(s): delete them first")
    repository.delete(session, corpus)
