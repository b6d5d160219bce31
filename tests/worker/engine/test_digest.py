"""A local model folder's content digest: config.json and the weight files, nothing else."""

import hashlib
import os

from worker.engine.digest import content_digest


def folder_with(tmp_path, name, weights=b"\x01\x02\x03", config=b"{}"):
    folder = tmp_path / name
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_bytes(config)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "sub" / "extra.bin").write_bytes(b"bin")
    (folder / "README.md").write_text("not part of the model")
    return folder


def test_the_digest_is_computed_as_documented(tmp_path):
    expected = hashlib.sha256(
        b"config.json\x002\x00{}" + b"model.safetensors\x003\x00\x01\x02\x03" + b"sub/extra.bin\x003\x00bin"
    )
    assert content_digest(folder_with(tmp_path, "a")) == f"sha256:{expected.hexdigest()}"


def test_same_content_same_digest_any_change_another(tmp_path):
    original = folder_with(tmp_path, "a")
    copy = folder_with(tmp_path, "b")
    (copy / "README.md").write_text("another readme")
    assert content_digest(original) == content_digest(copy)
    assert content_digest(folder_with(tmp_path, "c", weights=b"\x01\x02\x04")) != content_digest(original)
    assert content_digest(folder_with(tmp_path, "d", config=b'{"a": 1}')) != content_digest(original)


def test_a_rewritten_file_is_hashed_again(tmp_path):
    folder = folder_with(tmp_path, "a")
    before = content_digest(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\x09\x09\x09")
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later modification time
    assert content_digest(folder) != before
