"""The report's header for a compliance reader: which audit, when (with the zone), under which policy, and
exactly which models (source, resolved commit or content digest)."""

from datetime import UTC, datetime

from service.specs.render import report_to_html
from service.specs.report import AuditHeader, ModelProvenance, Provenance, Report, RunCounts

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32
SPEC = {
    "target": {"model": "/models/acme/target"},
    "unlearned": [{"name": "npo", "model": "muse-bench/npo", "revision": "main"}],
    "unlearning": [{"name": "ga_new", "method": "ga_klr"}],
    "corpus": "c0ffee",
    "policy": {"max_retained": 0.4, "item_rise": 0.2},
    "seed": 7,
}


def header_report(audit: AuditHeader | None, models: dict[str, ModelProvenance]) -> Report:
    provenance = Provenance(
        models=models, started_at="2026-01-02T03:04:05+00:00", finished_at="2026-01-02T04:00:00+00:00"
    )
    return Report(spec=SPEC, audit=audit, provenance=provenance)


def section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    return page[start : page.index("<h2>", start + 4)]


def test_the_header_names_the_audit_its_times_with_zone_policy_and_models():
    audit = AuditHeader(
        id="a1b2", name="Q3 release check", status="succeeded", submitted_at=datetime(2026, 1, 2, 3, 0, tzinfo=UTC),
        started_at=datetime(2026, 1, 2, 3, 1, tzinfo=UTC), finished_at=datetime(2026, 1, 2, 4, 0, tzinfo=UTC),
        runs=RunCounts(done=6, failed=0, cancelled=0, total=6),
    )  # fmt: skip
    models = {
        "target": ModelProvenance(name="target", source="/models/acme/target", content_sha256=DIGEST),
        "npo": ModelProvenance(name="npo", source="muse-bench/npo", revision=COMMIT),
    }
    page = report_to_html(header_report(audit, models))
    assert page.index("<h2>Audit</h2>") < page.index("<h2>Policy</h2>") < page.index("<h2>Verdict")
    head = section(page, "Audit")
    for shown in ("a1b2", "Q3 release check", "2026-01-02T03:00:00+00:00", "2026-01-02T04:00:00+00:00", "c0ffee"):
        assert shown in head
    policy = section(page, "Policy")
    assert "<th class='l'>max_retained</th><td>0.4</td>" in policy  # as given
    assert "<th class='l'>max_recovery</th><td>0.25</td>" in policy  # the default it ran with
    assert "<th class='l'>item_rise</th><td>0.2</td>" in policy and "fail above" in policy
    table = section(page, "Models")
    assert f"<td class='l'>/models/acme/target</td><td class='l'>{DIGEST}</td>" in table
    assert f"<td class='l'>muse-bench/npo</td><td class='l'>commit {COMMIT}</td>" in table
    assert "unlearned by the audit (ga_klr)" in table and "not recorded yet" in table


def test_a_cli_report_has_no_audit_record_but_its_own_times():
    page = report_to_html(header_report(None, {}))
    head = section(page, "Audit")
    assert "audit id" not in head and "2026-01-02T03:04:05+00:00" in head
    assert "main (requested; not recorded yet)" in section(page, "Models")
