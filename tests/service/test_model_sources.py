"""Local models on SQLite and PostgreSQL: each tenant reads only ROOT/<tenant>/ (the roots themselves only when
shared), paths are compared after resolving symlinks, and a refused path reads exactly like a missing one."""

import uuid

import pytest
from fastapi.testclient import TestClient

from service.db import session_scope
from service.keys.service import create_key
from service.main import create_app
from tests.service.problems import field_errors
from tests.tiny_world import make_bundle, stand_in_models


@pytest.fixture
def roots(tmp_path):
    """A model root with one tenant folder holding a model, and a model outside every root."""
    root = tmp_path / "models"
    outside = stand_in_models(tmp_path / "elsewhere", ("secret",))
    return root, outside


@pytest.fixture
def tenants(database_url):
    """Two tenants, by name: (name, auth headers)."""
    made = []
    for _ in range(2):
        name = f"t-{uuid.uuid4().hex[:8]}"
        with session_scope(database_url) as session:
            made.append((name, {"Authorization": f"Bearer {create_key(session, name).token}"}))
    return made


def client_for(settings, root, shared: bool = False) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"model_roots": [root], "shared_model_roots": shared})))


def submit(client, auth, target: str):
    spec = {"target": {"model": target}, "unlearned": [{"name": "u", "model": target}],
            "corpus": make_bundle().to_document(), "metrics": ["verbmem_f"]}  # fmt: skip
    return client.post("/v1/audits", json=spec, headers=auth)


def refusal(response) -> str:
    return next(message for location, message in field_errors(response) if location == ["body", "target", "model"])


def test_a_tenant_reads_its_own_folder_only(settings, roots, tenants):
    root, _outside = roots
    (a_name, a_auth), (_b_name, b_auth) = tenants
    model = stand_in_models(root / a_name, ("m",)) / "m"
    stand_in_models(root, ("shared",))
    with client_for(settings, root) as client:
        assert submit(client, a_auth, str(model)).status_code == 202
        assert "no model folder at this path" in refusal(submit(client, b_auth, str(model)))
        assert "no model folder at this path" in refusal(submit(client, a_auth, str(root / "shared")))
    with client_for(settings, root, shared=True) as client:
        assert submit(client, b_auth, str(root / "shared")).status_code == 202


def test_refused_and_missing_paths_get_the_same_answer(settings, roots, tenants):
    """No existence oracle: another tenant's model, a folder outside the roots and a path that does not exist
    in one's own folder are told apart by nothing but the path itself."""
    root, outside = roots
    (a_name, a_auth), (b_name, _b_auth) = tenants
    stand_in_models(root / b_name, ("theirs",))
    (root / a_name).mkdir(parents=True)
    paths = [root / b_name / "theirs", outside / "secret", root / a_name / "missing", root / b_name / "missing"]
    with client_for(settings, root) as client:
        answers = {refusal(submit(client, a_auth, str(path))).replace(str(path), "PATH") for path in paths}
    assert len(answers) == 1, answers


def test_symlinks_are_followed_before_the_roots_are_checked(settings, roots, tenants):
    root, outside = roots
    (a_name, a_auth), _ = tenants
    own = stand_in_models(root / a_name, ("real",))
    (own / "escape").symlink_to(outside / "secret", target_is_directory=True)
    (own / "alias").symlink_to(own / "real", target_is_directory=True)
    (own / "real" / "weights.safetensors").symlink_to(outside / "secret" / "config.json")
    stand_in_models(own, ("clean",))
    with client_for(settings, root) as client:
        assert "no model folder" in refusal(submit(client, a_auth, str(own / "escape")))
        assert "no model folder" in refusal(submit(client, a_auth, str(own / "real")))  # a file leads out
        assert "no model folder" in refusal(submit(client, a_auth, str(own / ".." / ".." / "elsewhere" / "secret")))
        (own / "real" / "weights.safetensors").unlink()
        assert submit(client, a_auth, str(own / "alias")).status_code == 202  # a link that stays inside
        assert submit(client, a_auth, str(own / "clean")).status_code == 202
