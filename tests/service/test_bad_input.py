"""Bad bytes and numbers on SQLite and PostgreSQL (which refuses NUL characters: these were 500s there):
refused with 422 naming the field, wherever they come in, and nothing stored; unexpected failures answer a
JSON 500 that shows no internals, with the details in the log."""

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from tests.service.problems import field_errors, problem
from tests.service.submissions import spec_for
from tests.tiny_world import make_bundle


def nothing_stored(client, auth) -> bool:
    audits = client.get("/v1/audits", headers=auth).json()["total"]
    return audits == 0 and client.get("/v1/corpora", headers=auth).json()["total"] == 0


def test_nul_in_the_path_query_and_headers_is_refused_naming_the_parameter(client, auth, model_root):
    assert field_errors(client.get("/v1/audits/%00", headers=auth)) == [
        (["path", "audit_id"], "contains a NUL character (\\u0000)")
    ]
    assert field_errors(client.get("/v1/audits/abc/items?model=%00", headers=auth))[0][0] == ["query", "model"]
    assert field_errors(client.get("/v1/corpora/a%00b", headers=auth))[0][0] == ["path", "corpus_id"]
    upload = client.post("/v1/corpora?name=a%00b", json=make_bundle().to_document(), headers=auth)
    assert field_errors(upload)[0][0] == ["query", "name"]
    headers = {**auth, "Idempotency-Key": "key\x00"}
    assert field_errors(client.post("/v1/audits", json=spec_for(model_root), headers=headers))[0][0] == [
        "header",
        "idempotency-key",
    ]
    assert client.get("/%00").status_code == 404  # the dashboard's files: nothing there
    assert nothing_stored(client, auth)


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"corpus": "abc\x00"}, ["body", "corpus"]),
        ({"target": {"model": "/models/tar\x00get"}}, ["body", "target", "model"]),
        ({"unlearned": [{"name": "ga", "model": "muse-bench/x", "revision": "a\x00"}]},
         ["body", "unlearned", 0, "revision"]),
        ({"limits": {"max_items": True}}, ["body", "limits", "max_items"]),
        ({"precisions": [{"method": "rtn", "group_size": 10**61}]}, ["body", "precisions", 0, "rtn", "group_size"]),
        ({"target": {"model": "muse-bench/target", "revision": "r" * 100_000}}, ["body", "target", "revision"]),
    ],
)  # fmt: skip
def test_bad_specs_are_refused_naming_the_field(client, auth, model_root, change, location):
    response = client.post("/v1/audits", json=spec_for(model_root, **change), headers=auth)
    assert location in [loc for loc, _ in field_errors(response)]
    assert nothing_stored(client, auth)


def test_non_finite_numbers_are_refused_naming_the_field(client, auth, model_root):
    """Python's JSON parser reads Infinity and NaN (FastAPI uses it): they must not pass as numbers."""
    for value in ("Infinity", "-Infinity", "NaN"):
        body = json.dumps(spec_for(model_root, policy={"max_retained": 0.5})).replace("0.5", value)
        response = client.post("/v1/audits", content=body, headers={**auth, "Content-Type": "application/json"})
        assert ["body", "policy", "max_retained"] in [loc for loc, _ in field_errors(response)]
    assert nothing_stored(client, auth)


def test_nul_in_corpus_texts_is_refused_naming_part_and_item(client, auth, model_root):
    document = make_bundle().to_document()
    document["verbmem"]["forget"][1]["gt"] = "the end\x00"
    upload = field_errors(client.post("/v1/corpora", json=document, headers=auth))
    assert (["body", "verbmem", "forget", 1], "contains a NUL character (\\u0000) in 'gt'") in upload
    inline = field_errors(client.post("/v1/audits", json=spec_for(model_root, corpus=document), headers=auth))
    assert ["body", "corpus"] in [loc for loc, _ in inline]
    assert nothing_stored(client, auth)


def test_nul_in_a_webhook_body_is_refused_naming_the_field(client, auth):
    """The webhook body is a spec shape too (service.specs.base.SpecModel): refused before it is stored."""
    body = {"url": "http://93.184.215.14/hooks/audit", "events": ["run.failed"], "description": "bot\x00"}
    response = client.post("/v1/webhooks", json=body, headers=auth)
    assert ["body", "description"] in [loc for loc, _ in field_errors(response)]
    assert client.get("/v1/webhooks", headers=auth).json()["total"] == 0


def test_an_unexpected_failure_is_a_json_500_without_internals(settings, auth, monkeypatch, caplog):
    from service.audits import service

    def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT secret FROM internals WHERE token = 'ua_x'")

    monkeypatch.setattr(service, "page", broken)
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/v1/audits", headers=auth)
    detail = problem(response, 500, "internal-error")["detail"]
    assert "secret" not in detail and "SELECT" not in detail and "Traceback" not in response.text
    reference = detail.split("reference ")[1].split()[0]
    assert reference in caplog.text and "SELECT secret FROM internals" in caplog.text  # the details: in the log
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_database_failure_is_a_json_500_without_internals(settings, auth, tmp_path, caplog):
    broken = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/no/such/folder/db.sqlite"})
    with caplog.at_level(logging.ERROR), TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/v1/audits", headers=auth)
    assert response.status_code == 500
    assert "sqlite" not in response.text.lower() and str(tmp_path) not in response.text
    assert "unable to open database file" in caplog.text
