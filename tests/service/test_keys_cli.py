"""`unlearn-audit keys create/revoke` and `db upgrade/downgrade` on the configured data folder."""

import re

import pytest
from sqlalchemy import inspect

from service.config import get_settings
from service.db import engine_for, session_scope
from service.keys.service import hash_token, tenant_for_token
from service.models import ApiKey
from worker.cli import main


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_AUDIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_keys_are_created_hashed_and_revoked(data_dir, capsys):
    assert main(["keys", "create", "--tenant", "acme"]) == 0
    printed = capsys.readouterr().out
    token = re.search(r"api key \(shown once\): (\S+)", printed).group(1)
    key_id = re.search(r"key id: (\S+)", printed).group(1)
    url = f"sqlite:///{data_dir / 'unlearn-audit.sqlite'}"
    with session_scope(url) as session:
        assert tenant_for_token(session, token).name == "acme"
        stored = session.get(ApiKey, key_id)
        assert stored.token_sha256 == hash_token(token) and token not in stored.token_sha256
    assert main(["keys", "revoke", key_id]) == 0
    with session_scope(url) as session:
        assert tenant_for_token(session, token) is None
    assert main(["keys", "revoke", "no-such-key"]) == 1
    assert "key_id: no API key with id 'no-such-key'" in capsys.readouterr().err


def test_db_upgrade_and_downgrade(data_dir):
    assert main(["db", "upgrade"]) == 0
    engine = engine_for(f"sqlite:///{data_dir / 'unlearn-audit.sqlite'}")
    assert "audits" in inspect(engine).get_table_names()
    assert main(["db", "downgrade", "base"]) == 0
    engine.dispose()
    assert inspect(engine).get_table_names() == ["alembic_version"]


@pytest.mark.parametrize("name", ["../other", "a/b", "", ".hidden", "x" * 65, "tab\tname"])
def test_tenant_names_are_plain_folder_names(data_dir, capsys, name):
    """A tenant's models live under ROOT/<tenant>/: its name must not be able to point anywhere else."""
    assert main(["keys", "create", "--tenant", name]) == 2
    assert "tenant: up to 64 letters, digits" in capsys.readouterr().err


def test_a_data_folder_that_cannot_be_written_is_named_without_a_traceback(tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "a-file" / "data"
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("UNLEARN_AUDIT_DATA_DIR", str(blocked))
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 2
    finally:
        get_settings.cache_clear()
    error = capsys.readouterr().err
    assert f"data_dir: the folder {blocked} cannot be created or written" in error and "Traceback" not in error
