"""A finished tiny audit in the embedded service, seen in Chromium: the list, the matrix with the metric
definitions, the retained-share plot, the collision heat map, the per-item evidence and a report download,
each compared with the numbers that the API serves."""

import html
import json
import re
from pathlib import Path

import pytest

from service.specs.precision import RTNPrecision
from tests.dashboard.browser import NARROW, screenshot, sign_in
from tests.dashboard.bucketed import bucketed_unlearned
from tests.service.servers import wait_for_audit

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# The stand-in unlearned model stays inside the target's 3-bit per-channel buckets: buckets wide enough that
# staying inside them still changes the tiny target's full-precision text.
BUCKETS = RTNPrecision(bits=3, group_size=None)


@pytest.fixture(scope="module")
def finished_audit(embedded_service, tiny_target_dir: Path, tiny_bundle, tmp_path_factory) -> dict:
    """A tiny audit run to the end by the embedded worker: its key, id, results and evidence from the API."""
    folder = tmp_path_factory.mktemp("bucketed")
    unlearned = bucketed_unlearned(tiny_target_dir, folder, list(tiny_bundle.raw_forget), BUCKETS)
    key = embedded_service.new_key()
    spec = {
        "target": {"model": str(tiny_target_dir)},
        "unlearned": [{"name": "bucketed", "model": str(unlearned)}],
        "corpus": tiny_bundle.to_document(),
        "precisions": [
            {"method": "full"},
            {"method": "rtn", "bits": 8, "group_size": 32},
            {"method": "rtn", "bits": 4, "group_size": 32},
            BUCKETS.model_dump(),
        ],
        "metrics": ["verbmem_f", "knowmem_f", "collision"],
        "limits": {"max_items": 4, "bootstrap_samples": 20},
    }
    with embedded_service.client(key) as client:
        audit_id = client.post("/v1/audits", json=spec).json()["id"]
        audit = wait_for_audit(client, audit_id, timeout_s=600)
        assert audit["status"] == "succeeded", audit
        items = lambda **filters: client.get(f"/v1/audits/{audit_id}/items", params={"limit": 200, **filters}).json()  # noqa: E731
        return {
            "key": key,
            "id": audit_id,
            "audit": audit,
            "results": client.get(f"/v1/audits/{audit_id}/results").json(),
            "risen": items(model="bucketed", precision=BUCKETS.label, rose="true")["items"],
            "full_items": items(model="bucketed", precision="full")["items"],
            "report": client.get(f"/v1/audits/{audit_id}/report", params={"format": "json"}).json(),
            "report_html": client.get(f"/v1/audits/{audit_id}/report", params={"format": "html"}).text,
        }


@pytest.fixture
def audit_page(embedded_service, finished_audit, page):
    """The audit page reached the way a person does: sign in, then click the audit in the list."""
    sign_in(page, embedded_service.url, finished_audit["key"])
    row = page.locator(f"tr[data-audit-id='{finished_audit['id']}']")
    assert row.locator(".status").inner_text().endswith("succeeded")
    assert row.locator("[data-verdict]").get_attribute("data-verdict") == finished_audit["results"]["verdict"]
    assert row.locator("[role=progressbar]").get_attribute("aria-valuenow") == "100"
    screenshot(page, "finished-list-laptop")
    row.locator("a").click()
    page.wait_for_selector("#evidence .evidence-group")
    return page


def test_matrix_shows_the_stored_numbers_and_definitions(audit_page, finished_audit):
    results = finished_audit["results"]
    metrics = [m for m in results["metrics"] if m != "collision"]
    for variant in results["matrix"]:
        for metric in metrics:
            value = variant["metrics"][metric]
            cell = audit_page.locator(
                f"td[data-model='{variant['model']}'][data-precision='{variant['precision_label']}'][data-metric='{metric}']"
            )
            assert float(cell.get_attribute("data-value")) == value
            assert cell.locator(".value").inner_text() == f"{value:.3f}"
        collision = audit_page.locator(
            f"td[data-model='{variant['model']}'][data-precision='{variant['precision_label']}'][data-metric=collision]"
        )
        if variant["collision"]:
            assert float(collision.get_attribute("data-value")) == variant["collision"]["overall"]
        else:
            assert collision.inner_text() == "—"
    for model, by_precision in results["retained"].items():
        for label, by_metric in by_precision.items():
            for metric, share in by_metric.items():
                cell = audit_page.locator(f"td[data-model='{model}'][data-precision='{label}'][data-metric='{metric}']")
                expected = f"retained {share * 100:.1f} %" if share is not None else "retained undefined"
                assert expected in cell.inner_text()
    for model, verdicts in results["summary"]["verdicts"].items():
        for label, verdict in verdicts.items():
            row = audit_page.locator(f"tr[data-model='{model}'][data-precision='{label}']")
            assert row.locator("[data-verdict]").get_attribute("data-verdict") == verdict
    for metric, meaning in results["metric_info"].items():
        definition = audit_page.locator(f"#definition-{metric} + dd").inner_text()
        assert meaning["definition"] in definition and meaning["direction"] in definition


def test_plot_draws_every_retained_share_at_its_height(audit_page, finished_audit):
    retained = finished_audit["results"]["retained"]
    expected = {
        (model, label, metric): share
        for model, by_precision in retained.items()
        for label, by_metric in by_precision.items()
        for metric, share in by_metric.items()
        if share is not None
    }
    points = audit_page.locator("svg.plot .point")
    drawn = {}
    for index in range(points.count()):
        point = points.nth(index)
        key = tuple(point.get_attribute(f"data-{name}") for name in ("model", "precision", "metric"))
        box = point.bounding_box()
        drawn[key] = (float(point.get_attribute("data-value")), box["y"] + box["height"] / 2)
    assert {key: value for key, (value, _) in drawn.items()} == expected
    by_height = sorted(drawn.values(), key=lambda pair: pair[1])  # top of the page first
    assert [value for value, _ in by_height] == sorted((value for value, _ in by_height), reverse=True)


def test_heatmap_shows_each_layers_collision_rate(audit_page, finished_audit):
    collisions = finished_audit["results"]["collisions"]
    assert collisions, "the audit measured collisions"
    for collision in collisions:
        cells = audit_page.locator(
            f"svg.heatmap .cell[data-model='{collision['model']}'][data-precision='{collision['precision_label']}']"
        )
        shown = {cells.nth(i).get_attribute("data-layer"): float(cells.nth(i).get_attribute("data-value"))
                 for i in range(cells.count())}  # fmt: skip
        assert shown == {**collision["per_layer"], "all layers": collision["overall"]}
        overall_label = cells.and_(audit_page.locator("[data-layer='all layers']")).locator("text")
        assert overall_label.text_content() == f"{collision['overall']:.3f}"


def test_evidence_puts_truth_and_both_outputs_side_by_side(audit_page, finished_audit):
    risen = finished_audit["risen"]
    assert risen, f"the bucketed model must bring a forget item back at {BUCKETS.label}"
    full_by_key = {(item["metric"], item["index"]): item for item in finished_audit["full_items"]}
    assert audit_page.locator("#evidence-precision").input_value() == "rtn-w4-g32-asym"  # 4 bits first
    audit_page.select_option("#evidence-precision", BUCKETS.label)
    audit_page.wait_for_selector(f"#evidence .evidence-group h3:has-text('items rose at {BUCKETS.label}')")
    cards = audit_page.locator("#evidence article.evidence")
    assert cards.count() == len(risen)
    for item in risen:
        card = audit_page.locator(f"article.evidence[data-metric='{item['metric']}'][data-index='{item['index']}']")
        assert float(card.get_attribute("data-quant-score")) == item["score"]
        assert float(card.get_attribute("data-full-score")) == item["full_score"] < item["score"]
        assert card.locator("[data-role=truth] p").inner_text().strip() == item["truth"].strip()
        assert card.locator("[data-role=quantized] p").inner_text().strip() == item["output"].strip()
        full_output = full_by_key[(item["metric"], item["index"])]["output"]
        assert card.locator("[data-role=full] p").inner_text().strip() == full_output.strip()
    screenshot(audit_page, "audit-laptop")
    audit_page.set_viewport_size(NARROW)
    screenshot(audit_page, "audit-narrow")


def test_report_link_downloads_the_stored_report(audit_page, finished_audit):
    with audit_page.expect_download() as download:
        audit_page.click("button[data-report=json]")
    saved = Path(download.value.path())
    assert json.loads(saved.read_text()) == finished_audit["report"]
    assert download.value.suggested_filename == f"audit-{finished_audit['id']}.json"


def test_html_report_opens_in_a_new_tab(audit_page, finished_audit):
    with audit_page.context.expect_page() as opened:
        audit_page.click("button[data-report=html]")
    report_tab = opened.value
    report_tab.wait_for_load_state()
    assert report_tab.url.startswith("blob:")  # fetched with the key, not a bare link
    title = re.search(r"<title>(.*?)</title>", finished_audit["report_html"], re.S).group(1)
    assert report_tab.title() == html.unescape(title).strip()
    report_tab.close()
