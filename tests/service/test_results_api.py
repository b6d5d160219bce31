"""Results, per-item evidence and reports, read back from rows written as a worker writes them."""

from service.db import session_scope
from service.models import Audit, ItemScore, Result, Run
from service.specs.report import ItemRecord, MetricResult, VariantResult
from tests.service.submissions import spec_for

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
            records = [
                ItemRecord(model=run.model, precision_label=run.precision_label, metric="verbmem_f", index=index,
                           score=score, output=f"out {index}", truth="gt")
                for index, score in reversed(list(enumerate(scores)))  # stored out of order
            ]  # fmt: skip
            session.add_all(ItemScore.from_record(record, run.id, audit_id) for record in records)
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
    in_spec_order = [(model, label, index) for (model, label), scores in SCORES.items() for index in range(4)]
    assert [(i["model"], i["precision_label"], i["index"]) for i in as_json.json()["items"]] == in_spec_order
    as_csv = client.get(f"/v1/audits/{audit_id}/report", headers={**auth, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert sum(1 for line in as_csv.text.splitlines() if line.startswith("ga,rtn-w4-g32-asym,verbmem_f")) == 1
    as_html = client.get(f"/v1/audits/{audit_id}/report?format=html", headers={**auth, "Accept": "text/csv"})
    assert as_html.headers["content-type"].startswith("text/html") and "rtn-w4-g32-asym" in as_html.text


def test_privleak_labels_reach_the_items_and_the_report(client, auth, model_root, database_url):
    spec = spec_for(model_root, precisions=[{"method": "full"}], metrics=["privleak"])
    audit_id = client.post("/v1/audits", json=spec, headers=auth).json()["id"]
    labels = [0, 0, 1, 1]  # forget texts first, then holdout texts
    with session_scope(database_url) as session:
        run = session.query(Run).filter(Run.audit_id == audit_id, Run.model == "target").one()
        session.add_all(
            ItemScore.from_record(
                ItemRecord(model="target", precision_label="full", metric="privleak", index=i, score=1.5, label=label),
                run.id,
                audit_id,
            )
            for i, label in enumerate(labels)
        )
    items = client.get(f"/v1/audits/{audit_id}/items?metric=privleak", headers=auth).json()["items"]
    assert [item["label"] for item in items] == labels
    report = client.get(f"/v1/audits/{audit_id}/report?format=json", headers=auth).json()
    assert [item["label"] for item in report["items"]] == labels


def test_a_summarised_audit_shows_its_intervals_and_verdict_words_in_results_csv_and_html(
    client, auth, model_root, database_url
):
    from worker.runs.work import summarize_audit  # the service's summary task, in this process

    audit_id = submitted_audit(client, auth, model_root, database_url)
    with session_scope(database_url) as session:
        summarize_audit(session, session.get(Audit, audit_id))
    results = client.get(f"/v1/audits/{audit_id}/results", headers=auth).json()
    cells = {(c["precision_label"], c["metric"]): c for c in results["summary"]["cells"]}
    quantized = cells[("rtn-w4-g32-asym", "verbmem_f")]
    assert quantized["recovery"]["ci_low"] <= quantized["recovery"]["value"] <= quantized["recovery"]["ci_high"]
    assert quantized["verdict"] == "inconclusive"  # four items: the recovery interval contains max_recovery
    assert results["verdict"] == "inconclusive"
    assert {r["code"] for r in results["summary"]["reasons"]} >= {"recovery_straddles_max", "utility_not_measured"}
    as_csv = client.get(f"/v1/audits/{audit_id}/report?format=csv", headers=auth).text
    row = next(line for line in as_csv.splitlines() if line.startswith("ga,rtn-w4-g32-asym,verbmem_f"))
    assert row.endswith(",inconclusive,")  # the cell verdict, then an empty error
    page = client.get(f"/v1/audits/{audit_id}/report?format=html", headers=auth).text
    assert "? INCONCLUSIVE" in page and "recovery_straddles_max" in page
