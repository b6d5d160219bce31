"""Every query on corpora."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Audit, Corpus


def by_id(session: Session, tenant_id: str, corpus_id: str) -> Corpus | None:
    return session.scalars(select(Corpus).where(Corpus.id == corpus_id, Corpus.tenant_id == tenant_id)).one_or_none()


def by_sha256(session: Session, tenant_id: str, sha256: str) -> Corpus | None:
    return session.scalars(select(Corpus).where(Corpus.sha256 == sha256, Corpus.tenant_id == tenant_id)).one_or_none()


def stored_bytes(session: Session, tenant_id: str) -> int:
    """What the tenant's corpora take, together."""
    return session.scalar(select(func.sum(Corpus.size_bytes)).where(Corpus.tenant_id == tenant_id)) or 0


def add(session: Session, corpus: Corpus) -> Corpus:
    session.add(corpus)
    session.flush()
    return corpus


def audits_using(session: Session, corpus_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Audit).where(Audit.corpus_id == corpus_id)) or 0


def delete(session: Session, corpus: Corpus) -> None:
    session.delete(corpus)
    session.flush()
