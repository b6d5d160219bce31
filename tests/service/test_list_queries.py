"""Names, labels and list queries of audits and corpora on SQLite and PostgreSQL: filters, sorting, offset and
cursor pages, and unknown query parameters refused on every route."""

import datetime as dt
from urllib.parse import quote

from service.db import session_scope
from service.models import Audit
from tests.service.problems import field_problems
from tests.service.submissions import spec_for
from tests.tiny_world import make_bundle


def submit(client, auth, model_root, **fields) -> str:
    response = client.post("/v1/audits", json=spec_for(model_root, **fields), headers=auth)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def listed(client, auth, query: str) -> list[str]:
    response = client.get(f"/v1/audits?{query}", headers=auth)
    assert response.status_code == 200, response.text
    return [audit["id"] for audit in response.json()["items"]]


def test_name_and_labels_are_kept_and_shown(client, auth, model_root):
    audit_id = submit(client, auth, model_root, name="Q3 review", labels={"team": "risk", "model.family": "llama"})
    audit = client.get(f"/v1/audits/{audit_id}", headers=auth).json()
    assert audit["name"] == "Q3 review" and audit["labels"] == {"team": "risk", "model.family": "llama"}
    assert "name" not in audit["spec"] and "labels" not in audit["spec"]  # the audit's own, not the spec's
    item = client.get("/v1/audits", headers=auth).json()["items"][0]
    assert (item["name"], item["labels"]) == ("Q3 review", {"team": "risk", "model.family": "llama"})


def test_bad_names_and_labels_are_refused_naming_the_field(client, auth, model_root):
    cases = [
        ({"name": "a\u0000b"}, "body.name", "NUL"),
        ({"name": "x" * 201}, "body.name", "at most 200"),
        ({"labels": {"bad key": "x"}}, "body.labels", "label key 'bad key'"),
        ({"labels": {"team": "x" * 201}}, "body.labels", "longer than 200"),
        ({"labels": {f"k{i}": "v" for i in range(21)}}, "body.labels", "at most 20 labels"),
        ({"labels": {"team": 3}}, "body.labels.team", "string"),
    ]
    for fields, location, reason in cases:
        problems = field_problems(client.post("/v1/audits", json=spec_for(model_root, **fields), headers=auth))
        assert reason in problems[location], (fields, problems)
    assert client.get("/v1/audits", headers=auth).json()["total"] == 0


def test_audits_filter_on_statuses_labels_verdict_and_dates(client, auth, model_root, database_url):
    risk = submit(client, auth, model_root, labels={"team": "risk", "env": "prod"})
    risk_dev = submit(client, auth, model_root, seed=1, labels={"team": "risk", "env": "dev"})
    other = submit(client, auth, model_root, seed=2, labels={"team": "ml"})
    client.post(f"/v1/audits/{other}/cancel", headers=auth)
    with session_scope(database_url) as session:
        session.get(Audit, risk).summary = {"verdict": "fail"}
        session.get(Audit, risk_dev).summary = {"verdict": "pass"}
        created = session.get(Audit, risk_dev).created_at
    assert set(listed(client, auth, "label=team:risk")) == {risk, risk_dev}
    assert listed(client, auth, "label=team:risk&label=env:dev") == [risk_dev]
    assert listed(client, auth, "label=team:nobody") == []
    assert set(listed(client, auth, "status=queued,cancelled")) == {risk, risk_dev, other}
    assert listed(client, auth, "status=cancelled") == [other]
    assert set(listed(client, auth, "status=queued&status=cancelled")) == {risk, risk_dev, other}
    assert listed(client, auth, "verdict=fail") == [risk]
    assert set(listed(client, auth, "verdict=fail,pass")) == {risk, risk_dev}
    at = quote(created.isoformat())
    assert listed(client, auth, f"created_before={at}") == [risk]
    assert listed(client, auth, f"created_after={at}") == [other, risk_dev]
    in_tokyo = quote(created.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat())
    assert listed(client, auth, f"created_after={in_tokyo}") == [other, risk_dev]


def test_bad_filters_are_refused_naming_the_parameter(client, auth):
    cases = [
        ("status=queued,nonsense", "query.status.1"),
        ("verdict=maybe", "query.verdict.0"),
        ("label=team", "query.label"),
        ("label=bad%20key:x", "query.label"),
        ("created_before=2026-01-01T00:00:00", "query.created_before"),
        ("sort=size", "query.sort"),
        ("cursor=not-a-cursor", "query.cursor"),
    ]
    for query, location in cases:
        assert location in field_problems(client.get(f"/v1/audits?{query}", headers=auth)), query


def test_sorting_and_cursor_pages_walk_every_audit_once(client, auth, model_root):
    names = ["delta", "alpha", "charlie", "bravo", "echo"]
    ids = {name: submit(client, auth, model_root, seed=i, name=name) for i, name in enumerate(names)}
    assert listed(client, auth, "sort=name") == [ids[name] for name in sorted(names)]
    assert listed(client, auth, "sort=-name") == [ids[name] for name in sorted(names, reverse=True)]
    assert listed(client, auth, "sort=created_at") == [ids[name] for name in names]
    seen, url, pages = [], "/v1/audits?limit=2&sort=name", 0
    while url:
        response = client.get(url, headers=auth)
        body = response.json()
        assert body["total"] == 5
        seen += [audit["name"] for audit in body["items"]]
        url, pages = body["next"], pages + 1
        assert (response.headers.get("link") is None) == (url is None)
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"' and "sort=name" in url
    assert seen == sorted(names) and pages == 3
    second = client.get("/v1/audits?limit=2", headers=auth).json()["next"]
    assert "query.cursor" in field_problems(client.get(f"{second}&sort=name", headers=auth))
    assert "query.offset" in field_problems(client.get(f"{second}&offset=1", headers=auth))
    offset_page = client.get("/v1/audits?limit=2&offset=2", headers=auth).json()
    assert [a["name"] for a in client.get(offset_page["next"], headers=auth).json()["items"]] == ["delta"]


def test_corpora_have_names_labels_filters_and_cursors(client, auth):
    def upload(index: int, query: str) -> str:
        document = make_bundle().to_document()
        document["verbmem"]["forget"][0]["prompt"] += f" {index}"
        response = client.post(f"/v1/corpora?{query}", json=document, headers=auth)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    news = upload(1, "name=news&label=domain:news&label=lang:en")
    books = upload(2, "name=books&label=domain:books")
    corpus = client.get(f"/v1/corpora/{news}", headers=auth).json()
    assert corpus["labels"] == {"domain": "news", "lang": "en"}
    page = client.get("/v1/corpora?label=domain:books", headers=auth).json()
    assert [c["id"] for c in page["items"]] == [books] and page["next"] is None
    first = client.get("/v1/corpora?limit=1&sort=name", headers=auth).json()
    assert [c["id"] for c in first["items"]] == [books]
    assert [c["id"] for c in client.get(first["next"], headers=auth).json()["items"]] == [news]
    twice = client.post("/v1/corpora?label=a:1&label=a:2", json=make_bundle().to_document(), headers=auth)
    assert "twice" in field_problems(twice)["query.label"]


def test_unknown_query_parameters_are_refused_on_every_route(client, auth, model_root):
    audit_id = submit(client, auth, model_root)
    for method, path in [
        ("GET", "/v1/audits?stauts=queued"),
        ("GET", f"/v1/audits/{audit_id}?stauts=queued"),
        ("GET", f"/v1/audits/{audit_id}/report?stauts=queued"),
        ("GET", "/v1/corpora?stauts=queued"),
        ("GET", "/v1/webhooks?stauts=queued"),
        ("POST", f"/v1/audits/{audit_id}/cancel?stauts=queued"),
        ("GET", "/healthz?stauts=queued"),
    ]:
        problems = field_problems(client.request(method, path, headers=auth))
        assert "unknown query parameter" in problems["query.stauts"], path
    assert "format" in field_problems(client.get(f"/v1/audits/{audit_id}/report?x=1", headers=auth))["query.x"]
