"""Results, per-item evidence and reports, read back from rows written as a worker writes them."""

from service.db import session_scope
from service.models import Audit, ItemScore, Result, Run
from service.specs.report import MetricResult, VariantResult
from tests.service.test_audits_api import spec_for

# (model, precision) -> per-item verbmem_f scores; the unlearned model's items 1 and 3 come back at 4 bits
SCORES = {
    ("target", "full"): [1.0, 0.9, 0.8, 1.0],
    ("target", "rtn-w4-g32-asym"): [1.0, 0.8, 0.8, 0.9],
    ("ga", "full"): [0.1, 0.2, 0.0, 0.1],
    ("ga", "rtn-w4-g32-asym"): [0.1, 0.7, 0.0, 0.6],
}


def store_outputs(database_url: str, audit_id: str) -> None:
    """What the evaluate runs store: one Result and the item scores per variant."""
    with session_scope(database_url) as session:
        runs = session.query(Run).filter(Run.audit_id == audit_id, Run.kind == "evaluate").all()
        for run in runs:
            scores = SCORES.get((run.model, run.precision_label))
            if scores is None:
                continue
            value = sum(scores) / len(scores)
            detail = MetricResult(value=value, unit="fraction [0, 1]", direction="lower", n_items=len(scores))
            variant = VariantResult(
                model=run.model,
                precision=run.precision,
                precision_label=run.precision_label,
                metrics={"verbmem_f": value},
                metric_details={"verbmem_f": detail},
            )
            session.add(Result(run_id=run.id, audit_id=audit_id, variant=variant.model_dump(mode="json")))
            session.add_all(
                ItemScore(run_id=run.id, audit_id=audit_id, model=run.model, precision_label=run.precision_label,
                          metric="verbmem_f", item_index=index, score=score, output=f"out {index}", truth="gt")
                for index, score in enumerate(scores)
            )  # fmt: skip
            run.status = "succeeded"
        session.get(Audit, audit_id).status = "running"


def submitted_audit(client, auth, model_root, database_url) -> str:
    spec = spec_for(model_root, precisions=[{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
                    metrics=["verbmem_f"])  # fmt: skip
    audit_id = client.post("/v1/audits", json=spec, headers=auth).json()["id"]
    store_outputs(database_url, audit_id)
    return audit_id


def test_rose_filter_finds_the_items_that_came_back(client, auth, model_root, database_url):
    audit_id = submitted_audit(client, auth, model_root, database_url)
    risen = client.get(f"/v1/audits/{audit_id}/items?rose=true", headers=auth).json()
    assert [(i["model"], i["index"]) for i in risen["items"]] == [("ga", 1), ("ga", 3)]
    assert [round(i["delta"], 6) for i in risen["items"]] == [0.5, 0.5]
    assert risen["items"][0]["full_score"] == 0.2 and risen["items"][0]["output"] == "out 1"
    not_risen = client.get(f"/v1/audits/{audit_id}/items?rose=false", headers=auth).json()
    assert not_risen["total"] == 16 - 2


def test_items_are_paginated_and_filtered(client, auth, model_root, database_url):
    audit_id = submitted_audit(client, auth, model_root, database_url)
    everything = client.get(f"/v1/audits/{audit_id}/items?limit=200", headers=auth).json()
    assert everything["total"] == 16
    pages = [client.get(f"/v1/audits/{audit_id}/items?limit=5&offset={o}", headers=auth).json() for o in (0, 5, 10, 15)]
    assert [i for p in pages for i in p["items"]] == everything["items"]
    only = client.get(f"/v1/audits/{audit_id}/items?model=target&precision=full", headers=auth).json()
    assert [i["score"] for i in only["items"]] == SCORES[("target", "full")]


def test_results_hold_the_matrix_in_spec_order(client, auth, model_root, database_url):
    audit_id = submitted_audit(client, auth, model_root, database_url)
    results = client.get(f"/v1/audits/{audit_id}/results", headers=auth).json()
    assert [(c["model"], c["precision_label"]) for c in results["matrix"]] == list(SCORES)
    assert results["matrix"][3]["metrics"]["verbmem_f"] == sum(SCORES[("ga", "rtn-w4-g32-asym")]) / 4
    assert results["summary"] is None and results["verdict"] is None  # the final task has not run
    assert results["metric_info"]["verbmem_f"]["unit"] == "fraction [0, 1]"


def test_report_formats_by_accept_and_query(client, auth, model_root, database_url):
    audit_id = submitted_audit(client, auth, model_root, database_url)
    as_json = client.get(f"/v1/audits/{audit_id}/report", headers=auth)
    assert as_json.headers["content-type"] == "application/json"
    assert len(as_json.json()["variants"]) == 4 and len(as_json.json()["items"]) == 16
    as_csv = client.get(f"/v1/audits/{audit_id}/report", headers={**auth, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert sum(1 for line in as_csv.text.splitlines() if line.startswith("ga,rtn-w4-g32-asym,verbmem_f")) == 1
    as_html = client.get(f"/v1/audits/{audit_id}/report?format=html", headers={**auth, "Accept": "text/csv"})
    assert as_html.headers["content-type"].startswith("text/html") and "rtn-w4-g32-asym" in as_html.text
