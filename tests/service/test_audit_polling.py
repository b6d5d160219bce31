"""Long-running job conventions on SQLite and PostgreSQL: 202 with Location and Retry-After, updated_at, a
strong ETag with 304 on If-None-Match (full and light view), HEAD, and the light view for pollers."""

from datetime import datetime

from service.db import session_scope
from service.models import Audit
from tests.service.problems import field_errors
from tests.service.submissions import spec_for
from worker.runs import lifecycle
from worker.runs.progress import RunProgress


def submitted(client, auth, model_root) -> tuple[str, dict]:
    response = client.post("/v1/audits", json=spec_for(model_root), headers=auth)
    assert response.status_code == 202, response.text
    return response.json()["id"], response


def test_submit_names_the_audit_to_poll_and_when(client, auth, settings, model_root):
    headers = {**auth, "Idempotency-Key": "poll-1"}
    first = client.post("/v1/audits", json=spec_for(model_root), headers=headers)
    again = client.post("/v1/audits", json=spec_for(model_root), headers=headers)
    audit_id = first.json()["id"]
    assert first.status_code == again.status_code == 202
    assert first.headers["location"] == again.headers["location"] == f"/v1/audits/{audit_id}"
    assert first.headers["retry-after"] == str(settings.retry_after_s)
    assert client.get(first.headers["location"], headers=auth).json()["id"] == audit_id


def test_an_unchanged_audit_answers_304_to_its_etag(client, auth, model_root):
    audit_id, _ = submitted(client, auth, model_root)
    first = client.get(f"/v1/audits/{audit_id}", headers=auth)
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "private, no-cache"
    for if_none_match in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = client.get(f"/v1/audits/{audit_id}", headers={**auth, "If-None-Match": if_none_match})
        assert again.status_code == 304, if_none_match
        assert again.content == b"" and again.headers["etag"] == etag
    other = client.get(f"/v1/audits/{audit_id}", headers={**auth, "If-None-Match": '"not-this-one"'})
    assert other.status_code == 200 and other.json() == first.json()


def test_run_progress_moves_updated_at_and_the_etag_without_writing_the_audit(client, auth, model_root, database_url):
    audit_id, _ = submitted(client, auth, model_root)
    before = client.get(f"/v1/audits/{audit_id}", headers=auth)
    run_id = before.json()["runs"][0]["id"]
    assert lifecycle.claim(database_url, run_id) is not None  # the run (and the audit) start
    started = client.get(f"/v1/audits/{audit_id}", headers=auth)
    audit_row_before = audit_updated_at(database_url, audit_id)
    RunProgress(database_url, run_id, interval_s=0).write("verbmem_f", 0.5)
    progressed = client.get(f"/v1/audits/{audit_id}", headers={**auth, "If-None-Match": started.headers["etag"]})
    assert progressed.status_code == 200
    assert len({before.headers["etag"], started.headers["etag"], progressed.headers["etag"]}) == 3
    stamps = [datetime.fromisoformat(r.json()["updated_at"]) for r in (before, started, progressed)]
    assert stamps[0] < stamps[1] < stamps[2]
    assert audit_updated_at(database_url, audit_id) == audit_row_before  # progress wrote only the run's row
    assert progressed.json()["runs"][0]["stage"] == "verbmem_f"


def audit_updated_at(database_url: str, audit_id: str) -> datetime:
    with session_scope(database_url) as session:
        return session.get(Audit, audit_id).updated_at


def test_head_answers_the_headers_of_get(client, auth, other_auth, model_root):
    audit_id, _ = submitted(client, auth, model_root)
    got = client.get(f"/v1/audits/{audit_id}", headers=auth)
    head = client.head(f"/v1/audits/{audit_id}", headers=auth)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
    conditional = client.head(f"/v1/audits/{audit_id}", headers={**auth, "If-None-Match": got.headers["etag"]})
    assert conditional.status_code == 304
    assert client.head(f"/v1/audits/{audit_id}", headers=other_auth).status_code == 404
    light = client.get(f"/v1/audits/{audit_id}", params={"fields": "status"}, headers=auth)
    light_head = client.head(f"/v1/audits/{audit_id}", params={"fields": "status"}, headers=auth)
    assert light_head.headers["etag"] == light.headers["etag"]


def test_the_light_view_has_only_the_fields_asked_for_and_its_own_etag(client, auth, model_root, database_url):
    audit_id, _ = submitted(client, auth, model_root)
    full = client.get(f"/v1/audits/{audit_id}", headers=auth)
    light = client.get(f"/v1/audits/{audit_id}", params={"fields": "status,progress"}, headers=auth)
    assert light.status_code == 200
    assert light.json() == {key: full.json()[key] for key in ("id", "updated_at", "status", "progress")}
    assert len(light.content) < len(full.content) / 5
    repeated = client.get(f"/v1/audits/{audit_id}?fields=progress&fields=status", headers=auth)
    assert repeated.content == light.content and repeated.headers["etag"] == light.headers["etag"]
    assert light.headers["etag"] != full.headers["etag"]
    unchanged = client.get(
        f"/v1/audits/{audit_id}",
        params={"fields": "status,progress"},
        headers={**auth, "If-None-Match": light.headers["etag"]},
    )
    assert unchanged.status_code == 304
    lifecycle.claim(database_url, full.json()["runs"][0]["id"])
    changed = client.get(
        f"/v1/audits/{audit_id}",
        params={"fields": "status,progress"},
        headers={**auth, "If-None-Match": light.headers["etag"]},
    )
    assert changed.status_code == 200 and changed.json()["status"] == "running"


def test_an_unknown_field_is_refused_by_name(client, auth, model_root):
    audit_id, _ = submitted(client, auth, model_root)
    response = client.get(f"/v1/audits/{audit_id}", params={"fields": "status,secrets"}, headers=auth)
    ((location, message),) = field_errors(response)
    assert location == ["query", "fields", 1] and "'status'" in message


def test_listed_audits_carry_updated_at(client, auth, model_root):
    audit_id, _ = submitted(client, auth, model_root)
    listed = {item["id"]: item for item in client.get("/v1/audits", headers=auth).json()["items"]}
    detail = client.get(f"/v1/audits/{audit_id}", headers=auth).json()
    assert listed[audit_id]["updated_at"] == detail["updated_at"]
