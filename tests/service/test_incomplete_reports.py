"""An audit that has not succeeded never looks finished: its report (HTML, CSV, JSON) is stamped INCOMPLETE
with its status, runs and times and states no verdict; its progress never reaches 100 %."""

from datetime import timedelta

from service.db import session_scope
from service.models import Audit, Run
from service.models.base import utc_now
from tests.service.submissions import spec_for

STORED_SUMMARY = {"verdict": "pass", "verdicts": {"ga": {"full": "pass"}}, "reasons": ["ga: all below"]}


def submit(client, auth, model_root) -> str:
    spec = spec_for(model_root, precisions=[{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
                    metrics=["verbmem_f"])  # fmt: skip
    return client.post("/v1/audits", json=spec, headers=auth).json()["id"]


def set_state(database_url: str, audit_id: str, status: str, run_statuses: list[str], summary=None) -> None:
    """The audit and its runs as the workers leave them (runs in their stored order)."""
    with session_scope(database_url) as session:
        audit = session.get(Audit, audit_id)
        audit.status, audit.summary = status, summary
        audit.started_at = audit.created_at + timedelta(seconds=1)
        audit.finished_at = utc_now() if status in ("succeeded", "failed") else None
        runs = session.query(Run).filter(Run.audit_id == audit_id).order_by(Run.id).all()
        for run, run_status in zip(runs, run_statuses, strict=True):
            run.status, run.share_done = run_status, 0.5 if run_status == "running" else 0.0


def reports(client, auth, audit_id: str) -> tuple[str, str, dict]:
    url = f"/v1/audits/{audit_id}/report"
    html, csv = (client.get(url, params={"format": f}, headers=auth).text for f in ("html", "csv"))
    return html, csv, client.get(url, params={"format": "json"}, headers=auth).json()


def test_a_running_audit_is_stamped_incomplete_with_no_verdict(client, auth, model_root, database_url):
    audit_id = submit(client, auth, model_root)
    set_state(database_url, audit_id, "running", ["succeeded", "running", "queued", "queued"])
    html, csv, document = reports(client, auth, audit_id)
    body = html[html.index("<body>") :]
    assert body.index("INCOMPLETE: audit running, no verdict is stated") < body.index("<h2>Results")
    assert "runs: 1 done, 0 cancelled, 0 failed, of 4" in html and f"audit {audit_id}" in html
    assert "Verdict" not in html and "+00:00" in html  # times carry their zone
    assert "higher after quantization than at full precision in the runs stored so far" in html
    assert csv.splitlines()[0] == "# INCOMPLETE: audit running, no verdict is stated"
    assert csv.splitlines()[1] == "# runs: 1 done, 0 cancelled, 0 failed, of 4"
    assert csv.splitlines()[3].startswith("model,precision,metric")
    assert list(document)[:2] == ["schema_version", "audit"]
    assert document["audit"]["complete"] is False and document["audit"]["status"] == "running"
    assert document["audit"]["runs"] == {"done": 1, "failed": 0, "cancelled": 0, "total": 4}
    assert document["audit"]["id"] == audit_id and document["audit"]["submitted_at"].endswith("Z")  # UTC
    assert document["summary"]["verdict"] is None
    audit = client.get(f"/v1/audits/{audit_id}", headers=auth).json()
    assert audit["progress"]["share_done"] == (1 + 0.5) / 4


def test_a_cancelled_audit_shows_its_cancelled_runs_never_100_percent(client, auth, model_root):
    audit_id = submit(client, auth, model_root)
    client.post(f"/v1/audits/{audit_id}/cancel", headers=auth)
    html, csv, document = reports(client, auth, audit_id)
    assert "INCOMPLETE: audit cancelled, no verdict is stated" in html
    assert "runs: 0 done, 4 cancelled, 0 failed, of 4" in html and "# runs: 0 done, 4 cancelled" in csv
    assert document["audit"]["runs"] == {"done": 0, "failed": 0, "cancelled": 4, "total": 4}
    assert document["audit"]["finished_at"] is not None and not document["audit"]["complete"]
    listed = client.get("/v1/audits", headers=auth).json()["items"][0]
    assert listed["share_done"] == 0.0
    assert client.get(f"/v1/audits/{audit_id}/results", headers=auth).json()["status"] == "cancelled"


def test_a_failed_audit_states_no_verdict_even_with_a_stored_summary(client, auth, model_root, database_url):
    audit_id = submit(client, auth, model_root)
    set_state(database_url, audit_id, "failed", ["succeeded", "failed", "succeeded", "succeeded"], STORED_SUMMARY)
    html, csv, document = reports(client, auth, audit_id)
    assert "INCOMPLETE: audit failed" in html and "runs: 3 done, 0 cancelled, 1 failed, of 4" in html
    assert "PASS" not in html and "pass" not in csv and document["summary"]["verdict"] is None
    results = client.get(f"/v1/audits/{audit_id}/results", headers=auth).json()
    assert (results["status"], results["summary"], results["verdict"]) == ("failed", None, None)
    assert client.get("/v1/audits", headers=auth).json()["items"][0]["verdict"] is None
    assert client.get(f"/v1/audits/{audit_id}", headers=auth).json()["progress"]["share_done"] == 0.75


def test_a_succeeded_audit_states_its_verdict_without_a_stamp(client, auth, model_root, database_url):
    audit_id = submit(client, auth, model_root)
    set_state(database_url, audit_id, "succeeded", ["succeeded"] * 4, STORED_SUMMARY)
    html, csv, document = reports(client, auth, audit_id)
    assert "INCOMPLETE" not in html + csv and "Verdict: <span class='pass'>✓ PASS</span>" in html
    assert document["audit"]["complete"] is True and document["summary"]["verdict"] == "pass"
    assert client.get(f"/v1/audits/{audit_id}/results", headers=auth).json()["verdict"] == "pass"
