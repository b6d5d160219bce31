"""The service's summary task judges on the stored item scores, as the CLI does (one implementation)."""

import pytest

from service.db import session_scope
from service.keys.service import create_key
from service.models import Audit, Corpus, ItemScore, Result, Run
from service.specs.audit import AuditSpec
from service.specs.report import ItemRecord, VariantResult
from tests.service.databases import fresh_database
from worker.engine.summary import summarize
from worker.runs.work import summarize_audit

SPEC = {
    "target": {"model": "org/target"},
    "unlearned": [{"name": "npo", "model": "org/npo"}],
    "corpus": "stored",
    "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4}],
    "metrics": ["verbmem_f"],
    "policy": {"require_utility": False, "bootstrap_samples": 500},
    "seed": 7,
}
SCORES = {
    ("target", "full"): [0.9, 0.8, 0.7, 0.85, 0.75, 0.8],
    ("target", "rtn-w4-g128-asym"): [0.85, 0.8, 0.7, 0.8, 0.75, 0.8],
    ("npo", "full"): [0.1, 0.0, 0.2, 0.05, 0.1, 0.0],
    ("npo", "rtn-w4-g128-asym"): [0.7, 0.2, 0.6, 0.8, 0.1, 0.5],
}


@pytest.fixture
def database_url(tmp_path):
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def stored_audit(url: str) -> str:
    with session_scope(url) as session:
        tenant_id = create_key(session, "summary").tenant_id
        corpus = Corpus(tenant_id=tenant_id, sha256="0" * 64, document={}, parts={"verbmem/forget": 6})
        session.add(corpus)
        session.flush()
        audit = Audit(tenant_id=tenant_id, corpus_id=corpus.id, spec={**SPEC, "corpus": corpus.id}, status="running")
        session.add(audit)
        session.flush()
        for (model, label), scores in SCORES.items():
            run = Run(audit_id=audit.id, kind="evaluate", model=model, precision_label=label, precision={},
                      status="succeeded")  # fmt: skip
            session.add(run)
            session.flush()
            variant = VariantResult(model=model, precision={}, precision_label=label,
                                    metrics={"verbmem_f": sum(scores) / len(scores)})  # fmt: skip
            session.add(Result(run_id=run.id, audit_id=audit.id, variant=variant.model_dump(mode="json")))
            session.add_all(
                ItemScore(run_id=run.id, audit_id=audit.id, model=model, precision_label=label, metric="verbmem_f",
                          item_index=index, score=score, output="generated text")
                for index, score in reversed(list(enumerate(scores)))  # stored in no particular order
            )  # fmt: skip
        return audit.id


def test_the_summary_task_judges_on_paired_intervals_over_the_stored_item_scores(database_url):
    audit_id = stored_audit(database_url)
    with session_scope(database_url) as session:
        summarize_audit(session, session.get(Audit, audit_id))
    with session_scope(database_url) as session:
        audit = session.get(Audit, audit_id)
        stored, status = audit.summary, audit.status
    assert status == "succeeded"
    variants = [VariantResult(model=m, precision={}, precision_label=label, metrics={"verbmem_f": sum(s) / len(s)})
                for (m, label), s in SCORES.items()]  # fmt: skip
    items = [ItemRecord(model=m, precision_label=label, metric="verbmem_f", index=i, score=score)
             for (m, label), s in SCORES.items() for i, score in enumerate(s)]  # fmt: skip
    in_memory = summarize(AuditSpec.model_validate(SPEC), variants, items, {})
    assert stored["cells"] == in_memory.model_dump(mode="json")["cells"]
    recovered = next(c for c in stored["cells"] if c["precision_label"] == "rtn-w4-g128-asym")
    assert recovered["verdict"] == "inconclusive"  # six noisy items: both intervals contain their thresholds
    assert [r["code"] for r in recovered["reasons"]] == ["retained_straddles_max", "recovery_straddles_max"]
    assert stored["verdict"] == "inconclusive"
