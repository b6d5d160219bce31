"""Every error is an RFC 9457 problem with a stable code whose type URI the API describes; every answer
carries an X-Request-ID, and the log records made while serving it carry the same id."""

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.problem_docs import problems_markdown
from service.problems import PROBLEM_KINDS
from service.request_ids import current_request_id
from service.server import log_config
from tests.service.problems import problem

DOCS = Path(__file__).parents[2] / "docs" / "problems.md"


def test_plain_http_errors_are_problems(client, auth):
    missing = problem(client.get("/v1/no-such-route", headers=auth), 404, "not-found")
    assert missing["instance"] == "/v1/no-such-route" and missing["detail"] == "GET /v1/no-such-route: not found"
    problem(client.put("/v1/audits", headers=auth), 405, "method-not-allowed")
    unknown = problem(client.get("/v1/audits/nope", headers=auth), 404, "not-found")
    assert unknown["detail"] == "audit 'nope' not found" and unknown["title"] == "Not found"
    read_without_key = client.get("/v1/audits")
    assert problem(read_without_key, 401, "unauthorized")["detail"].startswith("Authorization:")
    assert read_without_key.headers["www-authenticate"] == "Bearer"
    write_without_key = client.post("/v1/audits", json={})  # refused by the middleware, before the body
    assert problem(write_without_key, 401, "unauthorized")["instance"] == "/v1/audits"


def test_a_422_lists_each_field_and_sums_them_up_in_detail(client, auth):
    body = problem(client.post("/v1/webhooks", json={"url": 3, "events": []}, headers=auth), 422, "validation-failed")
    fields = {(e["location"], e["field"]) for e in body["errors"]}
    assert fields == {("body", "url"), ("body", "events")}
    assert isinstance(body["detail"], str) and "body.url: " in body["detail"]


def test_each_problem_type_resolves_to_its_description(client):
    for code, kind in PROBLEM_KINDS.items():
        described = client.get(kind.type).json()
        assert described["code"] == code and described["title"] == kind.title
    assert len(client.get("/problems").json()) == len(PROBLEM_KINDS)
    problem(client.get("/problems/no-such-code"), 404, "not-found")


def test_the_document_of_problems_lists_every_code():
    assert DOCS.read_text() == problems_markdown(), "regenerate docs/problems.md from service.problem_docs"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("req-42.a:b/c", True), ("x" * 128, True), ("x" * 129, False), ("two words", False), ("a\tb", False)],
)
def test_a_sane_request_id_is_kept_any_other_replaced(client, auth, given, kept):
    response = client.get("/v1/audits", headers={**auth, "X-Request-ID": given})
    assert response.status_code == 200
    if kept:
        assert response.headers["x-request-id"] == given
    else:
        assert len(response.headers["x-request-id"]) == 32 and response.headers["x-request-id"] != given


def test_every_answer_carries_a_request_id_and_the_log_records_it(settings, auth, monkeypatch, caplog):
    from service.audits import service

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "page", broken)
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings), raise_server_exceptions=False) as client:
        failed = client.get("/v1/audits", headers={**auth, "X-Request-ID": "trace-7"})
        statics = [client.get("/"), client.get("/healthz"), client.post("/v1/corpora", content=b"x" * 300_000)]
    assert problem(failed, 500, "internal-error")["request_id"] == "trace-7"
    (record,) = [r for r in caplog.records if r.getMessage().startswith("unexpected error")]
    assert record.request_id == "trace-7"  # type: ignore[attr-defined]
    ids = {response.headers["x-request-id"] for response in statics}
    assert len(ids) == 3


def test_the_server_log_format_shows_the_request_id(client):
    client.get("/healthz", headers={"X-Request-ID": "trace-9"})  # the app installs the log field
    current_request_id.set("trace-9")
    record = logging.getLogger("service.main").makeRecord("service.main", logging.WARNING, __file__, 1, "m", (), None)
    formatter = logging.Formatter(log_config()["formatters"]["service"]["format"])
    assert "[request trace-9] m" in formatter.format(record)
