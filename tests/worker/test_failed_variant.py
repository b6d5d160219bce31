"""A failed evaluation run in the service: the audit ends failed, its report keeps every variant that was
measured and shows the failed one with its reason; the kept summary judges the others (SQLite, real tasks)."""

import pytest

from service.audits.report import load_report
from service.audits.service import results
from service.db import session_scope
from service.models import Audit, Run
from service.specs.render import report_to_csv, report_to_html
from tests.service.databases import fresh_database
from tests.worker.stored_audits import store_audit
from worker.engine.quantizers import IncompleteQuantization

RTN = "rtn-w4-g128-asym"
SPEC = {
    "target": {"model": "org/target"},
    "unlearned": [{"name": "npo", "model": "org/npo"}],
    "corpus": "stored",
    "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4}],
    "metrics": ["verbmem_f"],
    "policy": {"require_utility": False, "bootstrap_samples": 200},
}
SCORES = {("target", "full"): [0.9, 0.8, 0.85], ("target", RTN): [0.85, 0.8, 0.8], ("npo", "full"): [0.1, 0.0, 0.2]}
REASON = f"precision {RTN}: 3 of 8 linear layers were left in full precision"
SHOWN = f"IncompleteQuantization: {REASON} in …/quantizer.py"  # no path outside the tenant's model roots


@pytest.fixture
def worker_database(tmp_path, monkeypatch):
    from service.config import get_settings

    with fresh_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("UNLEARN_AUDIT_DATABASE_URL", url)
        monkeypatch.setenv("UNLEARN_AUDIT_BROKER_URL", f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
        get_settings.cache_clear()
        yield url
        get_settings.cache_clear()


def stored_audit(url: str) -> tuple[str, str]:
    """An audit whose three other variants are stored; the id of the unlearned model's 4-bit run, still queued."""
    audit_id = store_audit(url, "failures", SPEC, SCORES)
    with session_scope(url) as session:
        failing = Run(audit_id=audit_id, kind="evaluate", model="npo", precision_label=RTN,
                      precision={"method": "rtn", "bits": 4}, status="queued")  # fmt: skip
        session.add(failing)
        session.flush()
        return audit_id, failing.id


def test_a_failed_variant_leaves_the_rest_of_the_report_and_shows_why(worker_database):
    from worker.tasks import execute, summarize_audit

    audit_id, run_id = stored_audit(worker_database)

    def quantizer_fails(settings, claim, progress):
        raise IncompleteQuantization(f"{REASON} in /usr/lib/python3/site-packages/quantizer.py\nsecond line")

    execute(run_id, quantizer_fails)  # as a worker runs it: the run fails with its public reason
    summarize_audit(audit_id)
    with session_scope(worker_database) as session:
        audit = session.get(Audit, audit_id)
        report = load_report(session, audit)
        matrix = {(cell.model, cell.precision_label): cell.error for cell in results(session, audit).matrix}
        status, error, kept = audit.status, audit.error, audit.summary
    assert status == "failed" and SHOWN in error
    variants = {(v.model, v.precision_label): v for v in report.variants}
    assert set(variants) == {*SCORES, ("npo", RTN)}  # every measured variant, and the failed one
    failed = variants[("npo", RTN)]
    assert failed.error == SHOWN and failed.metrics == {}
    assert variants[("npo", "full")].metrics["verbmem_f"] == pytest.approx(0.1)
    assert len(report.items) == 9
    assert matrix == {**dict.fromkeys(SCORES), ("npo", RTN): failed.error}  # GET /v1/audits/{id}/results
    assert report.summary.verdict is None and not report.summary.verdicts  # failed: no verdict is stated
    assert kept["verdicts"] == {"npo": {"full": kept["verdicts"]["npo"]["full"]}}  # the others are judged
    assert [(r["code"], r["precision_label"]) for r in kept["reasons"] if r["model"] == "npo" and
            r["code"] == "variant_failed"] == [("variant_failed", RTN)]  # fmt: skip
    csv_text = report_to_csv(report)
    assert csv_text.startswith("# INCOMPLETE: audit failed, no verdict is stated")
    assert f"npo,{RTN},,,,,,,,,,,,,,,,,,,{SHOWN}\n" in csv_text
    page = report_to_html(report)
    assert "INCOMPLETE" in page and f"variant failed, no verdict: {SHOWN}" in page
