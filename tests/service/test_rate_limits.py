"""Rate limits on failed authentications (per client address) and on writes (per API key): 429 with a
Retry-After, counted in memory (the embedded default) or in the configured Redis (shared by API processes)."""

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.service.servers import fresh_redis
from tests.tiny_world import make_bundle


@pytest.fixture(params=["memory", "redis"])
def limited(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    redis_url = fresh_redis() if request.param == "redis" else None
    return settings.model_copy(
        update={"redis_url": redis_url, "auth_failure_rate": "3/minute", "write_rate": "2/minute"}
    )


def retry_after(response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["Retry-After"])


def test_failed_authentications_are_limited_per_address(limited, auth):
    with TestClient(create_app(limited), client=("203.0.113.7", 5000)) as client:
        wrong = {"Authorization": "Bearer not-a-key"}
        assert client.post("/v1/corpora", json={}, headers=wrong).status_code == 401  # refused before the body
        assert client.get("/v1/audits", headers=wrong).status_code == 401
        assert client.get("/v1/audits").status_code == 401
        refused = client.get("/v1/audits", headers=auth)  # even a valid key, from this address
        assert 0 < retry_after(refused) <= 60
        assert "failed authentications" in refused.json()["detail"]
    with TestClient(create_app(limited), client=("203.0.113.8", 5000)) as other_address:
        assert other_address.get("/v1/audits", headers=auth).status_code == 200


def test_writes_are_limited_per_key(limited, auth, other_auth):
    with TestClient(create_app(limited)) as client:
        bundle = make_bundle().to_document()
        assert client.post("/v1/corpora", json=bundle, headers=auth).status_code == 201
        assert client.post("/v1/corpora", json=bundle, headers=auth).status_code == 200
        refused = client.post("/v1/corpora", json=bundle, headers=auth)
        assert 0 < retry_after(refused) <= 60
        assert "too many writes" in refused.json()["detail"]
        assert client.get("/v1/corpora", headers=auth).status_code == 200  # reads are not writes
        assert client.post("/v1/corpora", json=bundle, headers=other_auth).status_code == 201


def test_a_rate_that_is_not_one_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match="write_rate"):
        Settings(write_rate="often")
