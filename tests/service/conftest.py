"""Fixtures for the API tests: a migrated database per backend, an app on it, and API keys of two tenants."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.service.databases import fresh_database, new_api_key
from tests.service.live_server import live_audit_server  # noqa: F401 - the fixture, one per session for every module
from tests.tiny_world import stand_in_models


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model root shared by every tenant (`shared_model_roots`), with stand-in model folders."""
    return stand_in_models(tmp_path_factory.mktemp("models"), ("target", "ga", "t", "u"))


@pytest.fixture
def settings(database_url: str, model_root: Path, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        model_roots=[model_root],
        shared_model_roots=True,
        allowed_hub_orgs=["muse-bench"],
        max_upload_bytes=200_000,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth(database_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_api_key(database_url)}"}


@pytest.fixture
def other_auth(database_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_api_key(database_url)}"}
