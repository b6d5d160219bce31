"""The embedded data folder: private to its user, checked at start-up, and named when it cannot be used."""

import os
import stat
import subprocess

import pytest

from service.config import FolderError, Settings
from tests.service.servers import CLI, REPO


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_is_created_private_with_private_database_files(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_folders()
    assert mode(tmp_path / "data") == 0o700
    for name in ("unlearn-audit.sqlite", "broker.sqlite"):  # SQLite gives its -wal and -shm files this mode
        assert mode(tmp_path / "data" / name) == 0o600
    assert (tmp_path / "data" / "checkpoints").is_dir() and (tmp_path / "data" / "models").is_dir()


def test_existing_database_files_are_made_private(tmp_path):
    (tmp_path / "unlearn-audit.sqlite").write_bytes(b"")
    (tmp_path / "unlearn-audit.sqlite").chmod(0o644)
    Settings(data_dir=tmp_path).ensure_folders()
    assert mode(tmp_path / "unlearn-audit.sqlite") == 0o600


def test_a_folder_that_cannot_be_written_is_named(tmp_path):
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(FolderError, match=r"checkpoint_dir: the folder .*a-file/checkpoints cannot be created"):
        Settings(data_dir=tmp_path / "data", checkpoint_dir=tmp_path / "a-file" / "checkpoints").ensure_folders()


def test_serve_names_the_folder_it_cannot_write_instead_of_a_traceback(tmp_path):
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [*CLI, "serve", "--no-worker", "--port", "9", "--data-dir", str(tmp_path / "a-file" / "data")]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"error: data_dir: the folder {tmp_path / 'a-file' / 'data'} cannot be created or written" in result.stderr
    assert "Traceback" not in result.stderr
