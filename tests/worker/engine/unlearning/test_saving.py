"""Unlearned model folders appear whole or not at all: a save that fails (a full disk, simulated by a
tokenizer whose save raises ENOSPC after the weights were written) leaves nothing behind."""

import errno
import json

import pytest

from service.specs.report import UnlearningRecord
from worker.engine.unlearning.saving import RECORD_FILE, save_model_folder

RECORD = UnlearningRecord(name="ga", method="ga", config={}, seed=0, corpus_sha256="0" * 64)


class WeightsWriter:
    def save_pretrained(self, folder, **_options) -> None:
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)


class Tokenizer:
    def __init__(self, disk_full: bool = False):
        self.disk_full = disk_full

    def save_pretrained(self, folder) -> None:
        if self.disk_full:
            raise OSError(errno.ENOSPC, "No space left on device")
        (folder / "tokenizer.json").write_text("{}", encoding="utf-8")


def test_a_failed_save_leaves_no_folder_and_no_partial_files(tmp_path):
    target = tmp_path / "audit" / "ga"
    with pytest.raises(OSError, match="No space left"):
        save_model_folder(WeightsWriter(), Tokenizer(disk_full=True), RECORD, target)
    assert not target.exists()
    assert list((tmp_path / "audit").iterdir()) == []


def test_a_save_replaces_an_earlier_folder_whole(tmp_path):
    target = tmp_path / "audit" / "ga"
    target.mkdir(parents=True)
    (target / "stale.bin").write_bytes(b"old")
    assert save_model_folder(WeightsWriter(), Tokenizer(), RECORD, target) == target
    assert sorted(p.name for p in target.iterdir()) == sorted(["model.safetensors", "tokenizer.json", RECORD_FILE])
    assert json.loads((target / RECORD_FILE).read_text())["checkpoint"] == str(target.resolve())
    assert [p.name for p in (tmp_path / "audit").iterdir()] == ["ga"]
