"""Corpus routes on SQLite and PostgreSQL: content addressing, validation, isolation, limits, deletion."""

import json

from fastapi.testclient import TestClient
from sqlalchemy import event

from service.db import engine_for
from service.main import create_app
from tests.service.problems import field_errors, problem
from tests.tiny_world import make_bundle


def bundle_document() -> dict:
    return make_bundle().to_document()


def test_upload_is_content_addressed_and_stored_once(client, auth):
    document = bundle_document()
    first = client.post("/v1/corpora?name=tiny", json=document, headers=auth)
    assert first.status_code == 201, first.text
    assert first.json()["sha256"] == make_bundle().sha256
    assert first.json()["parts"]["verbmem/forget"] == 4
    again = client.post("/v1/corpora", json=document, headers=auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    listed = client.get("/v1/corpora", headers=auth).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "tiny"


def test_muse_extras_are_tolerated_listed_as_ignored_and_not_stored(client, auth):
    document = bundle_document()
    document["raw"] |= {"holdout": ["Held out."], "retain1": ["One."], "retain2": ["Two."]}
    document["sust"] = {"forget_1": ["Split."]}
    response = client.post("/v1/corpora", json=document, headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ignored"] == ["raw/holdout", "raw/retain1", "raw/retain2", "sust"]
    assert body["sha256"] == make_bundle().sha256  # the same bundle as without the extras
    assert "raw/holdout" not in body["parts"]
    assert client.get(f"/v1/corpora/{body['id']}", headers=auth).json()["ignored"] == []


def test_bundle_meta_is_checked_naming_the_field(client, auth):
    document = bundle_document() | {"meta": {"reference_auc": {"value": 2.0, "name": "x", "source": "y"}}}
    response = client.post("/v1/corpora", json=document, headers=auth)
    assert field_errors(response)[0][0] == ["body", "meta", "reference_auc", "value"]


def test_malformed_bundle_names_part_item_and_reason(client, auth):
    document = bundle_document()
    document["verbmem"]["forget"][2] = {"prompt": "x"}
    response = client.post("/v1/corpora", json=document, headers=auth)
    assert (["body", "verbmem", "forget", 2], "missing key 'gt'") in field_errors(response)


def test_other_tenant_sees_nothing(client, auth, other_auth):
    corpus_id = client.post("/v1/corpora", json=bundle_document(), headers=auth).json()["id"]
    assert client.get(f"/v1/corpora/{corpus_id}", headers=other_auth).status_code == 404
    assert client.delete(f"/v1/corpora/{corpus_id}", headers=other_auth).status_code == 404
    assert client.get("/v1/corpora", headers=other_auth).json()["total"] == 0
    assert client.get(f"/v1/corpora/{corpus_id}", headers=auth).status_code == 200


def test_missing_or_wrong_key_is_401(client):
    assert client.get("/v1/corpora").status_code == 401
    response = client.get("/v1/corpora", headers={"Authorization": "Bearer ua_not-a-key"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_body_above_the_upload_limit_is_413(client, auth, settings):
    document = bundle_document()
    document["raw"]["forget"] = ["word " * (settings.max_upload_bytes // 4)]
    response = client.post("/v1/corpora", content=json.dumps(document), headers=auth)
    assert str(settings.max_upload_bytes) in problem(response, 413, "payload-too-large")["detail"]


def test_streamed_body_above_the_limit_is_413(client, auth, settings):
    chunk = b" " * 50_000
    chunks = iter([b'{"raw": {"forget": "', *[chunk] * (settings.max_upload_bytes // len(chunk) + 1), b'"}}'])
    response = client.post("/v1/corpora", content=chunks, headers=auth)
    assert response.status_code == 413


def test_delete_refused_while_an_audit_uses_it(client, auth, model_root):
    corpus_id = client.post("/v1/corpora", json=bundle_document(), headers=auth).json()["id"]
    spec = {"target": {"model": str(model_root / "t")}, "unlearned": [{"name": "u", "model": str(model_root / "u")}],
            "corpus": corpus_id}  # fmt: skip
    audit_id = client.post("/v1/audits", json=spec, headers=auth).json()["id"]
    response = client.delete(f"/v1/corpora/{corpus_id}", headers=auth)
    assert "1 audit" in problem(response, 409, "corpus-in-use")["detail"]
    assert client.delete(f"/v1/audits/{audit_id}", headers=auth).status_code == 204
    assert client.delete(f"/v1/corpora/{corpus_id}", headers=auth).status_code == 204
    assert client.get(f"/v1/corpora/{corpus_id}", headers=auth).status_code == 404


def limited_client(settings, max_corpus_items: int) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"max_corpus_items": max_corpus_items})))


def tiny_items(count: int) -> list[dict]:
    return [{"prompt": f"p{i}", "gt": f"g{i}"} for i in range(count)]


def test_a_bundle_above_the_item_limit_is_refused(settings, auth, model_root):
    with limited_client(settings, 10) as client:
        at_limit = client.post("/v1/corpora", json={"verbmem": {"forget": tiny_items(10)}}, headers=auth)
        assert at_limit.status_code == 201, at_limit.text
        counted = client.post("/v1/corpora", json={"privleak": {"forget": ["a"] * 11}}, headers=auth)
        assert field_errors(counted)[0][1] == "11 items, above the limit of 10 per bundle"
        parsed = client.post("/v1/corpora", json={"verbmem": {"forget": tiny_items(1000)}}, headers=auth)
        # objects are counted as they are parsed: parsing stops at the limit
        assert field_errors(parsed) == [(["body"], "more than 10 items, the limit per bundle")]
        spec = {
            "target": {"model": str(model_root / "t")},
            "unlearned": [{"name": "u", "model": str(model_root / "u")}],
        }
        inline = client.post(
            "/v1/audits", json={**spec, "corpus": {"verbmem": {"forget": tiny_items(11)}}}, headers=auth
        )
        inline = client.post("/v1/audits", json=spec, headers=auth)
        assert field_errors(inline)[0][0] == ["body", "corpus"]
        assert client.get("/v1/corpora", headers=auth).json()["total"] == 1


def test_a_body_that_is_not_json_is_refused_naming_the_reason(client, auth):
    for body in (b"{", b"\xff\xfe{}", b"[" * 100_000):
        response = client.post("/v1/corpora", content=body, headers={**auth, "Content-Type": "application/json"})
        assert "not a valid JSON document" in field_errors(response)[0][1]


def test_lists_and_reads_never_load_the_documents(client, auth, database_url):
    """The document is the whole corpus (megabytes): a list of corpora reads only what it shows."""
    corpus_id = client.post("/v1/corpora", json=bundle_document(), headers=auth).json()["id"]
    statements: list[str] = []
    engine = engine_for(database_url)

    def record(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/v1/corpora", headers=auth).json()["items"][0]["id"] == corpus_id
        assert client.get(f"/v1/corpora/{corpus_id}", headers=auth).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    corpus_queries = [s for s in statements if "FROM corpora" in s]
    assert corpus_queries and not any("corpora.document" in s for s in corpus_queries), corpus_queries


def test_the_stored_size_is_that_of_the_canonical_document(client, auth):
    stored = client.post("/v1/corpora", json=bundle_document(), headers=auth).json()
    canonical = json.dumps(bundle_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stored["size_bytes"] == len(canonical.encode("utf-8"))
