"""An audit as the workers leave it in the database: evaluation runs succeeded with their results and per-item
VerbMem scores stored (in no particular order), for tests of the service's summary and report."""

from collections.abc import Mapping

from service.db import session_scope
from service.keys.service import create_key
from service.models import Audit, Corpus, ItemScore, Result, Run
from service.specs.report import VariantResult

Scores = Mapping[tuple[str, str], list[float]]  # (model, precision label) -> per-item VerbMem scores


def store_audit(url: str, tenant: str, spec: dict, scores: Scores) -> str:
    """The new audit's id; `spec` as submitted (its corpus is replaced by the stored corpus's id)."""
    with session_scope(url) as session:
        tenant_id = create_key(session, tenant).tenant_id
        items = max(len(s) for s in scores.values())
        corpus = Corpus(tenant_id=tenant_id, sha256="0" * 64, document={}, parts={"verbmem/forget": items})
        session.add(corpus)
        session.flush()
        audit = Audit(tenant_id=tenant_id, corpus_id=corpus.id, spec={**spec, "corpus": corpus.id}, status="running")
        session.add(audit)
        session.flush()
        for (model, label), item_scores in scores.items():
            store_variant(session, audit.id, model, label, item_scores)
        return audit.id


def store_variant(session, audit_id: str, model: str, label: str, scores: list[float]) -> None:
    run = Run(audit_id=audit_id, kind="evaluate", model=model, precision_label=label, precision={},
              status="succeeded")  # fmt: skip
    session.add(run)
    session.flush()
    variant = VariantResult(model=model, precision={}, precision_label=label,
                            metrics={"verbmem_f": sum(scores) / len(scores)})  # fmt: skip
    session.add(Result(run_id=run.id, audit_id=audit_id, variant=variant.model_dump(mode="json")))
    session.add_all(
        ItemScore(run_id=run.id, audit_id=audit_id, model=model, precision_label=label, metric="verbmem_f",
                  item_index=index, score=score, output="generated text")
        for index, score in reversed(list(enumerate(scores)))
    )  # fmt: skip
