"""Per-audit limits (422 naming the field, nothing stored) and per-tenant quotas (429 with Retry-After), on
SQLite and PostgreSQL."""

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from tests.service.problems import field_errors, problem
from tests.service.submissions import spec_for
from tests.tiny_world import make_bundle

RTN = [{"method": "rtn", "bits": 4, "group_size": 2**size} for size in range(3, 20)]  # 17 with full: 18
MANY_MODELS = [{"name": f"m{index}", "model": f"/models/m{index}"} for index in range(20)]  # 21 with the target


@pytest.mark.parametrize(
    ("change", "location", "setting"),
    [
        ({"precisions": RTN}, ["body", "precisions"], "MAX_PRECISIONS_PER_AUDIT"),
        ({"unlearned": MANY_MODELS}, ["body", "unlearned"], "MAX_MODELS_PER_AUDIT"),
        ({"unlearned": MANY_MODELS[:19], "precisions": RTN[:15]}, ["body", "precisions"], "MAX_RUNS_PER_AUDIT"),
        ({"unlearning": [{"method": "ga", "name": "u", "max_steps": 10_001}]},
         ["body", "unlearning", 0, "max_steps"], "MAX_UNLEARNING_STEPS"),
        ({"unlearning": [{"method": "ga", "name": "u", "max_steps": 5_001, "gradient_accumulation": 2}]},
         ["body", "unlearning", 0, "max_steps"], "= 10002 batches is above the limit of 10000"),
        ({"unlearning": [{"method": "npo", "name": "u", "epochs": 21}]},
         ["body", "unlearning", 0, "epochs"], "MAX_UNLEARNING_EPOCHS"),
    ],
)  # fmt: skip
def test_a_spec_above_a_limit_is_refused_naming_the_field(client, auth, model_root, change, location, setting):
    response = client.post("/v1/audits", json=spec_for(model_root, **change), headers=auth)
    assert response.status_code == 422, response.text
    problems = {tuple(loc): msg for loc, msg in field_errors(response)}
    assert setting in problems[tuple(location)]
    assert client.get("/v1/audits", headers=auth).json()["total"] == 0
    assert client.get("/v1/corpora", headers=auth).json()["total"] == 0


def test_limits_are_settings(settings, auth, model_root):
    lowered = settings.model_copy(update={"max_precisions_per_audit": 2})
    with TestClient(create_app(lowered)) as client:
        response = client.post("/v1/audits", json=spec_for(model_root), headers=auth)  # three precisions
    assert field_errors(response)[0][0] == ["body", "precisions"]


def test_unfinished_runs_above_the_tenant_quota_are_429(settings, auth, other_auth, model_root):
    quota = settings.model_copy(update={"max_unfinished_runs_per_tenant": 10, "quota_retry_after_s": 77})
    with TestClient(create_app(quota)) as client:
        first = client.post("/v1/audits", json=spec_for(model_root), headers=auth)  # 8 runs
        assert first.status_code == 202, first.text
        second = client.post("/v1/audits", json=spec_for(model_root), headers=auth)
        problem(second, 429, "quota-exceeded")
        assert second.headers["Retry-After"] == "77"
        assert "UNLEARN_AUDIT_MAX_UNFINISHED_RUNS_PER_TENANT" in second.json()["detail"]
        assert client.get("/v1/audits", headers=auth).json()["total"] == 1
        assert client.post("/v1/audits", json=spec_for(model_root), headers=other_auth).status_code == 202
        client.post(f"/v1/audits/{first.json()['id']}/cancel", headers=auth)
        assert client.post("/v1/audits", json=spec_for(model_root), headers=auth).status_code == 202


def test_corpus_bytes_above_the_tenant_quota_are_429(settings, auth, other_auth):
    first, second = make_bundle().to_document(), make_bundle().to_document()
    second["verbmem"]["forget"][0]["gt"] += " And more."
    with TestClient(create_app(settings)) as client:
        size = client.post("/v1/corpora", json=first, headers=auth).json()["size_bytes"]
        client.delete(f"/v1/corpora/{client.get('/v1/corpora', headers=auth).json()['items'][0]['id']}", headers=auth)
    quota = settings.model_copy(update={"max_corpus_bytes_per_tenant": size + size // 2})
    with TestClient(create_app(quota)) as client:
        assert client.post("/v1/corpora", json=first, headers=auth).status_code == 201
        assert client.post("/v1/corpora", json=first, headers=auth).status_code == 200  # stored once: no new bytes
        refused = client.post("/v1/corpora", json=second, headers=auth)
        problem(refused, 429, "quota-exceeded")
        assert refused.headers["Retry-After"] == str(quota.quota_retry_after_s)
        assert "UNLEARN_AUDIT_MAX_CORPUS_BYTES_PER_TENANT" in refused.json()["detail"]
        assert client.post("/v1/corpora", json=second, headers=other_auth).status_code == 201
        assert client.get("/v1/corpora", headers=auth).json()["total"] == 1
