"""A local model folder's content digest: its weight files and its model and tokenizer configuration, nothing
else; the same digest names the model in the report and keys the result cache."""

import os

from worker.engine.model_digest import FileDigests, content_digest, model_digest


def folder_with(tmp_path, name, weights=b"\x01\x02\x03", config=b'{"hidden_size": 8}'):
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(config)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "README.md").write_text("not part of the model")
    return folder


def test_same_content_same_digest_any_change_another(tmp_path):
    original = folder_with(tmp_path, "a")
    copy = folder_with(tmp_path, "b")
    (copy / "README.md").write_text("another readme")
    assert content_digest(original) == content_digest(copy)
    assert content_digest(folder_with(tmp_path, "c", weights=b"\x01\x02\x04")) != content_digest(original)
    assert content_digest(folder_with(tmp_path, "d", config=b'{"hidden_size": 16}')) != content_digest(original)


def test_the_report_and_the_cache_name_a_folder_alike(tmp_path):
    folder = folder_with(tmp_path, "a")
    assert content_digest(folder) == model_digest(folder, None, FileDigests(tmp_path / "memo"))
    assert model_digest(folder, "f" * 40, FileDigests()) == f"hub:{'f' * 40}"


def test_a_rewritten_file_is_hashed_again(tmp_path):
    folder = folder_with(tmp_path, "a")
    before = content_digest(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\x09\x09\x09")
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later modification time
    assert content_digest(folder) != before


def test_the_report_and_the_cache_key_read_a_weight_file_once(tmp_path, monkeypatch):
    from worker.engine import model_digest as digests

    reads: list[str] = []
    real = digests._file_sha256
    monkeypatch.setattr(digests, "_file_sha256", lambda path: reads.append(path.name) or real(path))
    folder = folder_with(tmp_path, "once")
    content_digest(folder)  # as loading the model does
    model_digest(folder, None, FileDigests(tmp_path / "memo"))  # as the result cache's key does
    assert reads == ["model.safetensors"]
