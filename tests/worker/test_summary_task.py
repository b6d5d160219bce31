"""The service's summary task judges on the stored item scores, as the CLI does (one implementation)."""

import pytest

from service.db import session_scope
from service.models import Audit
from service.specs.audit import AuditSpec
from service.specs.report import ItemRecord, VariantResult
from tests.service.databases import fresh_database
from tests.worker.stored_audits import store_audit
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
    return store_audit(url, "summary", SPEC, SCORES)


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
