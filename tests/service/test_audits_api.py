"""Audit routes on SQLite and PostgreSQL: validation before storage, planning, queueing, idempotency,
pagination, isolation, cancel and delete."""

import uuid

import pytest

from service.artifacts import audit_checkpoint_dir
from tests.service.problems import field_errors, problem
from tests.service.submissions import queued_messages, spec_for
from tests.tiny_world import make_bundle


def test_submit_plans_runs_and_enqueues_after_commit(client, auth, settings, model_root):
    response = client.post("/v1/audits", json=spec_for(model_root), headers=auth)
    assert response.status_code == 202, response.text
    audit = client.get(f"/v1/audits/{response.json()['id']}?include=runs", headers=auth).json()
    evaluate = [r for r in audit["runs"] if r["kind"] == "evaluate"]
    collision = [r for r in audit["runs"] if r["kind"] == "collision"]
    assert len(evaluate) == 2 * 3  # (target, ga) x (full, rtn, int8)
    assert {(r["model"], r["precision_label"]) for r in collision} == {("ga", "rtn-w4-g32-asym"), ("ga", "bnb-int8")}
    assert audit["status"] == "queued" and audit["progress"]["runs_total"] == 8
    assert audit["spec"]["corpus"] == audit["corpus_id"]
    gated = {(r["model"], r["precision_label"]) for r in evaluate if r["status"] == "waiting"}
    assert gated == {(r["model"], r["precision_label"]) for r in collision}  # after its collision run
    gpu = queued_messages(settings.broker_url, "gpu")
    cpu = queued_messages(settings.broker_url, "cpu")
    assert sorted(args[0] for _, args in gpu) == sorted(r["id"] for r in evaluate if r["status"] == "queued")
    assert {task for task, _ in gpu} == {"unlearn_audit.evaluate_run"}
    assert sorted(args[0] for _, args in cpu) == sorted(r["id"] for r in collision)


def test_unlearning_recipes_run_first_and_their_variants_wait(client, auth, model_root):
    spec = spec_for(model_root, unlearned=[], unlearning=[{"method": "ga", "name": "ga_new", "lr": 1e-5}])
    response = client.post("/v1/audits", json=spec, headers=auth)
    assert response.status_code == 202, response.text
    runs = client.get(f"/v1/audits/{response.json()['id']}?include=runs", headers=auth).json()["runs"]
    statuses = {(r["kind"], r["model"], r["status"]) for r in runs}
    assert ("unlearn", "ga_new", "queued") in statuses
    assert ("evaluate", "ga_new", "waiting") in statuses and ("collision", "ga_new", "waiting") in statuses
    assert ("evaluate", "target", "queued") in statuses


@pytest.mark.parametrize(
    ("change", "location", "reason"),
    [
        ({"precisions": [{"method": "int3"}]}, ["body", "precisions", 0], "does not match any of the expected tags"),
        ({"precisions": [{"method": "rtn", "bits": 9}]}, ["body", "precisions", 0, "rtn", "bits"], "less than"),
        ({"metrics": ["bleu"]}, ["body", "metrics", 0], "Input should be"),
        ({"corpus": "no-such-id"}, ["body", "corpus"], "no corpus with id 'no-such-id'"),
        ({"corpus": {"verbmem": {"forget": [{"prompt": ""}]}}}, ["body", "corpus", "verbmem", "forget", 0], "missing"),
        ({"target": {"model": "/etc/models/x"}}, ["body", "target", "model"], "no model folder at this path"),
        ({"target": {"model": "evil-org/model"}}, ["body", "target", "model"], "'evil-org' is not allowed"),
        ({"surprise": 1}, ["body", "surprise"], "Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_refused_before_anything_is_stored(client, auth, model_root, change, location, reason):
    response = client.post("/v1/audits", json=spec_for(model_root, **change), headers=auth)
    messages = [message for where, message in field_errors(response) if where == location]
    assert any(reason in message for message in messages), response.json()
    assert client.get("/v1/audits", headers=auth).json()["total"] == 0
    assert client.get("/v1/corpora", headers=auth).json()["total"] == 0


def bundle_without(*parts: str) -> dict:
    """The tiny bundle's document without some parts, e.g. "raw/retain"."""
    document = make_bundle().to_document()
    for part in parts:
        folder, key = part.split("/")
        del document[folder][key]
    return document


@pytest.mark.parametrize(
    ("missing", "recipe", "reason"),
    [
        (("raw/retain",), {"method": "ga_gdr"}, "ga_new (ga_gdr) needs raw/retain text; the corpus has none"),
        (("raw/retain",), {"method": "rmu"}, "ga_new (rmu) needs raw/retain text; the corpus has none"),
        (("raw/forget", "raw/retain"), {"method": "ga"}, "ga_new (ga) needs raw/forget text; the corpus has none"),
    ],
)
def test_recipes_the_corpus_cannot_feed_are_refused_at_submission(client, auth, model_root, missing, recipe, reason):
    unlearning = [{**recipe, "name": "ga_new"}]
    inline = spec_for(model_root, corpus=bundle_without(*missing), unlearning=unlearning)
    response = client.post("/v1/audits", json=inline, headers=auth)
    assert field_errors(response) == [(["body", "unlearning", 0], reason)]
    assert client.get("/v1/corpora", headers=auth).json()["total"] == 0  # refused before the bundle is stored

    corpus_id = client.post("/v1/corpora", json=bundle_without(*missing), headers=auth).json()["id"]
    by_id = client.post("/v1/audits", json={**inline, "corpus": corpus_id}, headers=auth)
    assert field_errors(by_id)[0][0] == ["body", "unlearning", 0]
    assert client.get("/v1/audits", headers=auth).json()["total"] == 0
    gdr_on_full_corpus = spec_for(model_root, unlearning=unlearning)
    assert client.post("/v1/audits", json=gdr_on_full_corpus, headers=auth).status_code == 202


def test_paths_escaping_a_root_are_refused(client, auth, model_root):
    spec = spec_for(model_root, target={"model": str(model_root / ".." / "elsewhere")})
    response = client.post("/v1/audits", json=spec, headers=auth)
    assert response.status_code == 422
    hub = client.post("/v1/audits", json=spec_for(model_root, target={"model": "muse-bench/target"}), headers=auth)
    assert hub.status_code == 202


def test_idempotency_key_returns_the_same_audit(client, auth, model_root):
    headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/v1/audits", json=spec_for(model_root), headers=headers)
    again = client.post("/v1/audits", json=spec_for(model_root), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert client.get("/v1/audits", headers=auth).json()["total"] == 1
    different = client.post("/v1/audits", json=spec_for(model_root, seed=7), headers=headers)
    assert "Idempotency-Key" in problem(different, 409, "idempotency-key-reused")["detail"]


def test_list_is_paginated_newest_first_and_filtered(client, auth, model_root):
    ids = [client.post("/v1/audits", json=spec_for(model_root, seed=i), headers=auth).json()["id"] for i in range(5)]
    page = client.get("/v1/audits?limit=2&offset=1", headers=auth).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [a["id"] for a in page["items"]] == [ids[3], ids[2]]
    client.post(f"/v1/audits/{ids[0]}/cancel", headers=auth)
    cancelled = client.get("/v1/audits?status=cancelled", headers=auth).json()
    assert [a["id"] for a in cancelled["items"]] == [ids[0]]
    assert client.get("/v1/audits?limit=0", headers=auth).status_code == 422


def test_other_tenants_get_404_everywhere(client, auth, other_auth, model_root):
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    for method, path in [
        ("GET", ""), ("GET", "/results"), ("GET", "/items"), ("GET", "/report"), ("POST", "/cancel"), ("DELETE", ""),
    ]:  # fmt: skip
        response = client.request(method, f"/v1/audits/{audit_id}{path}", headers=other_auth)
        assert response.status_code == 404, (method, path)
    assert client.get("/v1/audits", headers=other_auth).json()["total"] == 0
    assert client.get(f"/v1/audits/{audit_id}", headers=auth).status_code == 200


def test_cancel_stops_queued_runs_and_is_idempotent(client, auth, model_root):
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    cancelled = client.post(f"/v1/audits/{audit_id}/cancel", headers=auth).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["runs"] is None  # the answer counts them; ?include=runs lists them
    progress = cancelled["progress"]
    assert (progress["runs_done"], progress["runs_cancelled"], progress["runs_total"]) == (0, 8, 8)
    assert progress["share_done"] == 0.0 and progress["by_kind"]["collision"]["cancelled"] == 2
    assert client.post(f"/v1/audits/{audit_id}/cancel", headers=auth).status_code == 200


def test_delete_removes_the_audit_and_its_checkpoints(client, auth, settings, model_root):
    audit_id, other_id = (client.post("/v1/audits", json=spec_for(model_root, seed=s), headers=auth).json()["id"]
                          for s in (1, 2))  # fmt: skip
    for identifier in (audit_id, other_id):  # what its unlearning runs saved (worker/runs/work.py: unlearn)
        saved = audit_checkpoint_dir(settings, identifier) / "ga_new"
        saved.mkdir(parents=True)
        (saved / "model.safetensors").write_bytes(b"\0" * 64)
    assert client.delete(f"/v1/audits/{audit_id}", headers=auth).status_code == 204
    assert client.get(f"/v1/audits/{audit_id}", headers=auth).status_code == 404
    assert not audit_checkpoint_dir(settings, audit_id).exists()
    assert (audit_checkpoint_dir(settings, other_id) / "ga_new" / "model.safetensors").is_file()


def test_an_audit_counts_its_runs_and_lists_them_only_a_page_at_a_time_when_asked(client, auth, model_root):
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    audit = client.get(f"/v1/audits/{audit_id}", headers=auth).json()
    assert audit["runs"] is None
    assert {kind: counts["total"] for kind, counts in audit["progress"]["by_kind"].items()} == {
        "evaluate": 6,
        "collision": 2,
    }
    first = client.get(f"/v1/audits/{audit_id}", params={"include": "runs", "limit": 5}, headers=auth).json()
    rest = client.get(f"/v1/audits/{audit_id}?include=runs&limit=5&offset=5", headers=auth).json()
    assert [len(first["runs"]), len(rest["runs"])] == [5, 3]
    assert len({run["id"] for run in first["runs"] + rest["runs"]}) == 8
    assert client.get(f"/v1/audits/{audit_id}?include=items", headers=auth).status_code == 422
