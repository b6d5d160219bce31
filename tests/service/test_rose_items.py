"""`items?rose=true`: forget items of unlearned models whose score at a precision exceeds their own score at
full precision by more than the policy's `item_rise`; never the target's items, holdout texts or retain QA."""

from service.db import session_scope
from service.models import ItemScore, Run
from service.specs.report import ItemRecord
from tests.service.submissions import spec_for

RTN = "rtn-w4-g32-asym"
# (model, metric, index, label) -> (score at full, score at RTN 4-bit)
SCORES = {
    ("ga", "verbmem_f", 0, None): (0.1, 0.7),  # rose by 0.6
    ("ga", "verbmem_f", 1, None): (0.2, 0.25),  # rose by 0.05: below the default item_rise
    ("ga", "knowmem_f", 0, None): (0.3, 0.45),  # rose by 0.15
    ("ga", "knowmem_r", 0, None): (0.1, 0.9),  # retain QA: utility, not forget knowledge
    ("ga", "privleak", 0, 0): (1.0, 3.0),  # a forget text's Min-K score
    ("ga", "privleak", 1, 1): (1.0, 3.0),  # a holdout text's
    ("target", "verbmem_f", 0, None): (0.1, 0.9),  # the target's own item
}


def audit_with_items(client, auth, model_root, database_url, policy=None) -> str:
    spec = spec_for(model_root, precisions=[{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
                    metrics=["verbmem_f", "knowmem_f", "knowmem_r", "privleak"], policy=policy or {})  # fmt: skip
    audit_id = client.post("/v1/audits", json=spec, headers=auth).json()["id"]
    with session_scope(database_url) as session:
        runs = {(r.model, r.precision_label): r.id for r in session.query(Run).filter(Run.audit_id == audit_id)}
        for (model, metric, index, label), scores in SCORES.items():
            for precision, score in zip(("full", RTN), scores, strict=True):
                record = ItemRecord(model=model, precision_label=precision, metric=metric, index=index, score=score,
                                    label=label)  # fmt: skip
                session.add(ItemScore.from_record(record, runs[(model, precision)], audit_id))
    return audit_id


def rose(client, auth, audit_id, value="true") -> list[tuple]:
    page = client.get(f"/v1/audits/{audit_id}/items", params={"rose": value, "limit": 100}, headers=auth).json()
    return sorted((i["model"], i["metric"], i["index"]) for i in page["items"])


def test_rose_lists_only_unlearned_forget_items_that_rose_beyond_item_rise(client, auth, model_root, database_url):
    audit_id = audit_with_items(client, auth, model_root, database_url)
    assert rose(client, auth, audit_id) == [("ga", "knowmem_f", 0), ("ga", "verbmem_f", 0)]
    assert len(rose(client, auth, audit_id, "false")) == 2 * len(SCORES) - 2


def test_item_rise_comes_from_the_audits_policy(client, auth, model_root, database_url):
    audit_id = audit_with_items(client, auth, model_root, database_url, policy={"item_rise": 0.01})
    assert ("ga", "verbmem_f", 1) in rose(client, auth, audit_id)
    strict = audit_with_items(client, auth, model_root, database_url, policy={"item_rise": 0.5})
    assert rose(client, auth, strict) == [("ga", "verbmem_f", 0)]
    report = client.get(f"/v1/audits/{strict}/report", params={"format": "html"}, headers=auth).text
    assert "rose by more than 0.5" in report and "verbmem_f #0" in report and "knowmem_f #0" not in report


def test_item_rise_is_bounded(client, auth, model_root):
    response = client.post("/v1/audits", json=spec_for(model_root, policy={"item_rise": 1.5}), headers=auth)
    assert response.status_code == 422 and "item_rise" in response.text
