"""The dashboard against the real API in Chromium: job status and model verdict labelled apart, times with
their zone, names and labels shown and filtered, a failed run's error once, captions for readers, and the
audit page polling conditionally (ETag) rather than downloading an unchanged audit every 2 s."""

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from service.db import session_scope
from service.models import Audit, Run
from service.models.base import utc_now
from service.models.states import AuditStatus, RunStatus
from tests.dashboard.audits import upload_corpus, valid_spec
from tests.dashboard.browser import sign_in

pytestmark = pytest.mark.browser
ZONE_AT_END = re.compile(r"(UTC|GMT[+\-\u2212]?[\d:]*|[A-Z]{3,5})$")


def submitted(live_service, key: str, **fields) -> str:
    with live_service.client(key) as client:
        spec = {**valid_spec(live_service, upload_corpus(client)), **fields}
        response = client.post("/v1/audits", json=spec)
        assert response.status_code == 202, response.text
        return response.json()["id"]


def finish(live_service, audit_id: str, verdict: str | None = None, run_error: str | None = None) -> None:
    """What the worker would store: succeeded with a verdict, or failed with the same error on every run."""
    with session_scope(live_service.settings.sqlalchemy_url) as session:
        audit = session.get(Audit, audit_id)
        runs = session.query(Run).filter(Run.audit_id == audit_id).all()
        for run in runs:
            run.status, run.error = (RunStatus.FAILED, run_error) if run_error else (RunStatus.SUCCEEDED, None)
        audit.status = AuditStatus.FAILED if run_error else AuditStatus.SUCCEEDED
        audit.summary = {"verdict": verdict} if verdict else None
        audit.error = "; ".join(f"{r.kind} {r.model} @ {r.precision_label}: {run_error}" for r in runs) or None
        audit.finished_at = utc_now()


def test_job_status_and_model_verdict_never_read_alike(live_service, page):
    key = live_service.new_key()
    done = submitted(live_service, key)
    waiting = submitted(live_service, key, seed=1)
    finish(live_service, done, verdict="fail")
    sign_in(page, live_service.url, key)
    headers = page.locator("#audit-list thead th").all_inner_texts()
    assert "Job status" in headers and "Model verdict" in headers
    row = page.locator(f"tr[data-audit-id='{done}']")
    job, verdict = row.locator(".badge.status").inner_text(), row.locator(".badge.verdict").inner_text()
    assert job.startswith("job:") and job.endswith("succeeded") and not set("✓✗⚠") & set(job)
    assert verdict.startswith("verdict:") and verdict.endswith("✗ fail")
    assert page.locator(f"tr[data-audit-id='{waiting}'] .badge.verdict").inner_text() == "verdict: not yet"
    row.locator("a.audit-name").click()
    page.wait_for_selector(".audit-status .status-succeeded")
    facts = page.locator(".audit-status dl.facts").inner_text()
    assert "Job status" in facts and "Model verdict" in facts and "verdict: ✗ fail" in facts


def test_times_name_their_zone(live_service, page):
    key = live_service.new_key()
    audit_id = submitted(live_service, key)
    sign_in(page, live_service.url, key)
    with live_service.client(key) as client:
        created_at = client.get(f"/v1/audits/{audit_id}").json()["created_at"]
    created = page.locator(f"tr[data-audit-id='{audit_id}'] time")
    assert created.get_attribute("datetime") == created_at
    assert ZONE_AT_END.search(created.inner_text()), created.inner_text()
    page.goto(f"{live_service.url}/#/audits/{audit_id}")
    assert ZONE_AT_END.search(page.locator(".audit-status time").first.inner_text())


def test_names_and_labels_are_shown_and_filter_the_list(live_service, page):
    key = live_service.new_key()
    risk = submitted(live_service, key, name="Nightly risk review", labels={"team": "risk", "env": "prod"})
    ml = submitted(live_service, key, seed=1, name="ML sweep", labels={"team": "ml"})
    sign_in(page, live_service.url, key)
    rows = page.locator("#audit-list tbody tr")
    expect(rows).to_have_count(2)
    row = page.locator(f"tr[data-audit-id='{risk}']")
    assert row.locator("a.audit-name").inner_text() == "Nightly risk review"
    assert row.locator(".label-chip").all_inner_texts() == ["team: risk", "env: prod"]

    page.fill("#label-filter", "team:ml")
    page.press("#label-filter", "Tab")  # the filter applies when the field is left (or on Enter)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-audit-id", ml)  # waits: a count of 1 may still be the last filter
    assert "label=team%3Aml" in page.url
    page.fill("#label-filter", "")
    page.press("#label-filter", "Tab")
    expect(rows).to_have_count(2)
    page.locator(f"tr[data-audit-id='{risk}'] .label-chip[data-label='env:prod']").click()
    expect(rows).to_have_count(1)
    assert page.input_value("#label-filter") == "env:prod"
    page.fill("#label-filter", "")
    page.fill("#name-filter", "sweep")
    page.press("#name-filter", "Tab")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-audit-id", ml)  # waits: a count of 1 may still be the last filter

    rows.first.locator("a.audit-name").click()
    expect(page.locator("#audit-heading h1")).to_have_text("ML sweep")
    assert page.locator("#audit-heading .label-chip").all_inner_texts() == ["team: ml"]


def test_a_failed_runs_error_is_shown_once(live_service, page):
    key = live_service.new_key()
    audit_id = submitted(live_service, key)
    error = "config.json: no such file in the model folder"
    finish(live_service, audit_id, run_error=error)
    sign_in(page, live_service.url, key)
    page.goto(f"{live_service.url}/#/audits/{audit_id}")
    page.wait_for_selector(".audit-status .status-failed")
    page.locator("details.runs summary").click()
    text = page.locator("main").inner_text()
    assert text.count(error) == 1, text
    with live_service.client(key) as client:
        runs = len(client.get(f"/v1/audits/{audit_id}?include=runs").json()["runs"])
    assert f"({runs} runs: " in page.locator(".failures").inner_text()


def test_captions_speak_to_readers_not_to_internal_documents(live_service, page):
    sign_in(page, live_service.url, live_service.new_key())
    captions = page.evaluate(
        """async () => {
          const heatmap = await import("/js/plots/heatmap.js");
          const retained = await import("/js/plots/retained.js");
          const columns = [{ model: "ga", precision: "rtn-w4", approximate: false, overall: 0.5,
            perLayer: { l0: 0.5 } }];
          const plot = retained.retainedPlot({ retained: { ga: { full: { verbmem_f: 0.4 } } }, precisions: ["full"],
            models: ["ga"], metrics: [{ name: "verbmem_f", title: "VerbMem" }], maxRetained: 0.5 });
          return [heatmap.collisionHeatmap(columns), plot].map((figure) => figure.textContent);
        }"""
    )
    assert len(captions) == 2 and all("Share of" in caption for caption in captions)
    for caption in captions:
        assert not re.search(r"DESIGN|§|issue \d|section \d", caption), caption


def test_audit_page_polls_with_the_etag_and_keeps_an_unchanged_page(live_service, page):
    key = live_service.new_key()
    audit_id = submitted(live_service, key)
    polls: list[tuple[int, str | None, str | None]] = []
    path = f"/v1/audits/{audit_id}"

    def record(response) -> None:
        if urlparse(response.url).path == path:
            polls.append((response.status, response.request.headers.get("if-none-match"), response.headers.get("etag")))

    page.on("response", record)
    sign_in(page, live_service.url, key)
    page.goto(f"{live_service.url}/#/audits/{audit_id}")
    page.wait_for_selector(".audit-status .status-queued")
    page.evaluate("document.querySelector('.audit-status').dataset.marker = 'first render'")
    expect(page.locator(".audit-status[data-marker='first render']")).to_have_count(1)
    page.wait_for_timeout(4500)  # two polls at least (every 2 s while queued)
    first_etag = polls[0][2]
    assert polls[0][0] == 200 and first_etag and polls[0][1] is None
    assert len(polls) >= 3 and all(poll[:2] == (304, first_etag) for poll in polls[1:]), polls
    assert page.locator(".audit-status").get_attribute("data-marker") == "first render"  # not redrawn

    with live_service.client(key) as client:
        assert client.post(f"{path}/cancel").status_code == 200
    page.wait_for_selector(".audit-status .status-cancelled")
    assert polls[-1][0] == 200 and polls[-1][2] != first_etag
