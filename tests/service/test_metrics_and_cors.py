"""/metrics (off by default, open, or behind its own token) counts HTTP requests by route template and reads
the state of the work from the database and the broker, never naming a tenant's data; CORS answers only the
origins listed, and `*` is refused when the settings are read."""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from service.config import Settings
from service.db import session_scope
from service.main import create_app
from service.models import Run
from tests.service.problems import problem
from tests.service.submissions import spec_for

TOKEN = "scrape-token-0123456789"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text, by metric name and labels."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            return float(match.group(2))
    raise AssertionError(f"no sample {name} {labels}")


def test_metrics_are_off_by_default(client):
    problem(client.get("/metrics"), 404, "not-found")


def test_metrics_count_requests_runs_queues_and_durations(settings, auth, model_root, database_url):
    with TestClient(create_app(settings.model_copy(update={"metrics_access": "public"}))) as client:
        audit = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()
        runs = client.get(f"/v1/audits/{audit['id']}?include=runs", headers=auth).json()["runs"]
        with session_scope(database_url) as session:
            run = session.get(Run, runs[0]["id"])
            run.status, run.started_at = "succeeded", run.created_at
            run.finished_at = run.created_at + timedelta(seconds=45)
        text = client.get("/metrics").text
    assert sample(text, "http_requests_total", handler="/v1/audits/{audit_id}", method="GET", status="2xx") >= 1
    unstarted = sum(
        sample(text, "unlearn_audit_runs", status=status, kind=kind)
        for kind in ("evaluate", "collision")
        for status in ("queued", "waiting")
    )
    assert unstarted >= len(runs) - 1
    assert sample(text, "unlearn_audit_runs", status="running", kind="unlearn") == 0
    assert sample(text, "unlearn_audit_queue_depth", queue="gpu") >= 1
    assert sample(text, "unlearn_audit_webhook_deliveries", outcome="failed") == 0
    kind = runs[0]["kind"]
    assert sample(text, "unlearn_audit_run_duration_seconds_bucket", kind=kind, le="30") == 0
    assert sample(text, "unlearn_audit_run_duration_seconds_bucket", kind=kind, le="60") >= 1
    assert audit["id"] not in text and str(model_root) not in text  # no tenant data in labels


def test_metrics_behind_their_own_token(settings, auth):
    guarded = settings.model_copy(update={"metrics_access": "token", "metrics_token": SecretStr(TOKEN)})
    with TestClient(create_app(guarded)) as client:
        problem(client.get("/metrics"), 401, "unauthorized")
        problem(client.get("/metrics", headers=auth), 401, "unauthorized")  # an API key is not the token
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.parametrize(
    ("values", "named", "reason"),
    [
        ({"metrics_access": "token"}, "metrics_token", "required when metrics_access is token"),
        ({"cors_origins": ["*"]}, "cors_origins", "'*' is refused"),
        ({"cors_origins": ["https://a.example/path"]}, "cors_origins", "not an origin"),
    ],
)
def test_bad_metrics_or_cors_settings_are_refused_at_start(tmp_path, values, named, reason):
    with pytest.raises(ValidationError) as error:
        Settings(data_dir=tmp_path, **values)
    assert named in str(error.value) and reason in str(error.value)


def test_cors_answers_the_listed_origins_only(settings, auth):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    with TestClient(create_app(settings)) as client:  # off by default
        plain = client.get("/v1/audits", headers={**auth, "Origin": "https://a.example"})
        assert "access-control-allow-origin" not in plain.headers
    allowed = settings.model_copy(update={"cors_origins": ["https://a.example"]})
    with TestClient(create_app(allowed)) as client:
        ok = client.options("/v1/audits", headers={**preflight, "Origin": "https://a.example"})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://a.example"
        other = client.options("/v1/audits", headers={**preflight, "Origin": "https://b.example"})
        assert "access-control-allow-origin" not in other.headers
        read = client.get("/v1/audits", headers={**auth, "Origin": "https://a.example"})
        assert read.headers["access-control-allow-origin"] == "https://a.example"
        assert "X-Request-ID" in read.headers["access-control-expose-headers"]
