"""The dashboard against the real API in Chromium: sign-in, the submit form and its errors, the list, cancel."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.dashboard.browser import NARROW, screenshot, sign_in
from tests.tiny_world import make_bundle

pytestmark = pytest.mark.browser


def model_root(service) -> Path:
    return Path(service.settings.model_roots[0])


def valid_spec(service, corpus_id: str) -> dict:
    root = model_root(service)
    return {
        "target": {"model": str(root / "target")},
        "unlearned": [{"name": "ga", "model": str(root / "ga")}],
        "corpus": corpus_id,
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
        "metrics": ["verbmem_f", "collision"],
    }


def upload_corpus(client) -> str:
    response = client.post("/v1/corpora", params={"name": "tiny"}, json=make_bundle().to_document())
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def test_sign_in_keeps_the_key_in_this_tab_only(live_service, page):
    key = live_service.new_key()
    page.goto(f"{live_service.url}/#/audits")
    page.wait_for_selector("#signin")
    assert page.url.endswith("#/signin?next=%23%2Faudits")
    page.fill("#api-key", "ua_not-a-real-key")
    page.click("#signin button[type=submit]")
    error = page.locator("#api-key-error")
    error.wait_for(state="visible")
    assert "not valid" in error.inner_text()
    assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, "signin-error")

    sign_in(page, live_service.url, key)
    assert page.evaluate("sessionStorage.getItem('unlearn-audit.api-key')") == key
    assert page.evaluate("localStorage.length") == 0
    other_tab = page.context.new_page()  # a new tab starts with an empty sessionStorage
    other_tab.goto(f"{live_service.url}/#/new")
    other_tab.wait_for_selector("#signin")
    other_tab.close()

    page.click("#sign-out")
    page.wait_for_selector("#signin")
    assert page.evaluate("sessionStorage.length") == 0


def test_invalid_audit_shows_the_api_errors_next_to_the_fields(live_service, page):
    key = live_service.new_key()
    with live_service.client(key) as client:
        corpus_id = upload_corpus(client)
        bad_bits = {**valid_spec(live_service, corpus_id), "precisions": [{"method": "rtn", "bits": 12}]}
        api_problem = client.post("/v1/audits", json=bad_bits).json()["errors"]
    sign_in(page, live_service.url, key)
    page.click("text=New audit")
    page.select_option("#corpus-id", corpus_id)
    page.fill("#target-model", f"{model_root(live_service)}/target")
    page.fill("#unlearned-models", f"ga {model_root(live_service)}/ga")
    for box in page.locator("input[name=precision]").all():
        box.uncheck()
    page.fill("#extra-precisions", json.dumps([{"method": "rtn", "bits": 12}]))
    page.click("#submit-audit button[type=submit]")
    precisions_error = page.locator("[data-field=precisions] > .field-error")
    precisions_error.wait_for(state="visible")
    bits_problem = next(p for p in api_problem if p["field"].endswith(".bits"))
    field_path = bits_problem["field"]  # e.g. precisions.0.rtn.bits
    shown = precisions_error.inner_text()
    assert bits_problem["message"] in shown
    assert field_path.replace("precisions.0.", "precisions.1.") in shown  # the form sends full first
    assert page.locator("[data-field=precisions]").get_attribute("aria-invalid") == "true"
    assert page.locator("[data-field=target] .field-error").is_hidden()

    page.fill("#extra-precisions", "")
    page.check("input[name=precision][value='2']")  # rtn-w4-g128-asym
    page.fill("#target-model", "/etc/models/target")
    page.click("#submit-audit button[type=submit]")
    target_error = page.locator("[data-field=target] .field-error")
    target_error.wait_for(state="visible")
    assert "no model folder at this path under your model roots" in target_error.inner_text()
    assert page.locator("[data-field=precisions] > .field-error").is_hidden()
    screenshot(page, "new-audit-errors-laptop")
    page.set_viewport_size(NARROW)
    screenshot(page, "new-audit-errors-narrow")
    with live_service.client(key) as client:
        assert client.get("/v1/audits").json()["total"] == 0  # nothing was stored


def test_submit_then_cancel_a_queued_audit(live_service, page):
    key = live_service.new_key()
    with live_service.client(key) as client:
        corpus_id = upload_corpus(client)
    sign_in(page, live_service.url, key)
    page.goto(f"{live_service.url}/#/new")
    page.select_option("#corpus-id", corpus_id)
    page.fill("#target-model", f"{model_root(live_service)}/target")
    page.fill("#unlearned-models", f"ga_klr {model_root(live_service)}/ga_klr")
    page.click("#submit-audit button[type=submit]")
    page.wait_for_url("**/#/audits/*")
    audit_id = page.url.rsplit("/", 1)[1]
    with live_service.client(key) as client:
        stored = client.get(f"/v1/audits/{audit_id}").json()
    assert stored["models"] == ["target", "ga_klr"]
    assert stored["precisions"] == ["full", "bnb-int8", "rtn-w4-g128-asym", "bnb-fp4-b64"]  # the checked presets
    page.wait_for_selector(".audit-status .status-queued")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=cancel]")
    page.wait_for_selector(".audit-status .status-cancelled")
    with live_service.client(key) as client:
        assert client.get(f"/v1/audits/{audit_id}").json()["status"] == "cancelled"
    assert page.locator("[data-action=cancel]").count() == 0


def test_list_filters_by_status_and_follows_changes_without_reload(live_service, page):
    key = live_service.new_key()
    with live_service.client(key) as client:
        spec = valid_spec(live_service, upload_corpus(client))
        first = client.post("/v1/audits", json=spec).json()["id"]
        second = client.post("/v1/audits", json={**spec, "seed": 1}).json()["id"]
    sign_in(page, live_service.url, key)
    rows = page.locator("#audit-list tbody tr")
    assert rows.count() == 2
    assert [rows.nth(i).get_attribute("data-audit-id") for i in range(2)] == [second, first]  # newest first
    assert page.locator(f"tr[data-audit-id='{first}'] .status").inner_text().endswith("queued")
    assert page.locator(f"tr[data-audit-id='{first}'] [role=progressbar]").get_attribute("aria-valuenow") == "0"
    page.evaluate("window.notReloaded = true")

    with live_service.client(key) as client:
        assert client.post(f"/v1/audits/{first}/cancel").status_code == 200
    page.wait_for_selector(f"tr[data-audit-id='{first}'][data-status=cancelled]")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "audit-list-laptop")
    page.set_viewport_size(NARROW)
    screenshot(page, "audit-list-narrow")

    page.select_option("#status-filter", "cancelled")
    expect(rows).to_have_count(1)  # polls the page (the dashboard's CSP forbids evaluating strings)
    assert rows.first.get_attribute("data-audit-id") == first
    assert page.url.endswith("#/audits?status=cancelled")
