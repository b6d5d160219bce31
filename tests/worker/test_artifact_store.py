"""The artifact store: a model saved on one machine, uploaded, downloaded and checked on another, and deleted
with its audit; on a local folder URL and on a real S3 API (moto's server on 127.0.0.1)."""

import os
import posixpath
import subprocess
import sys
from pathlib import Path

import pytest

from service.artifacts import artifact_store, audit_checkpoint_dir, remove_audit_files
from service.audits.report import stored_spec
from service.config import Settings
from service.db import session_scope
from service.keys.service import create_key
from service.models import Audit, Corpus, Run, UnlearningRecordRow
from tests.s3_server import DUMMY_AWS, s3_server
from tests.service.databases import fresh_database
from worker.runs import work
from worker.runs.artifacts import (
    MANIFEST,
    ArtifactError,
    local_copy,
    prefetch,
    publish,
    remove_copies_of_deleted_audits,
)

AUDIT = "a1"
MODEL = "ga_new"
FILES = {"model.safetensors": b"\x00weights" * 1000, "config.json": b'{"model_type": "llama"}', "sub/t.json": b"{}"}


@pytest.fixture(scope="module")
def s3_endpoint():
    saved = {key: os.environ.get(key) for key in DUMMY_AWS}
    os.environ.update(DUMMY_AWS)
    try:
        with s3_server("artifacts") as endpoint:
            yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path) -> dict:
    """The artifact settings every machine of a deployment shares."""
    if request.param == "file":
        return {"artifact_url": f"file://{tmp_path / 'store'}"}
    endpoint = request.getfixturevalue("s3_endpoint")
    return {"artifact_url": f"s3://artifacts/{tmp_path.name}", "artifact_endpoint_url": endpoint}


def machine(tmp_path: Path, name: str, store: dict) -> Settings:
    """A worker's settings on its own machine: its own data and checkpoint folders."""
    return Settings(data_dir=tmp_path / name, **store)


def saved_model(settings: Settings) -> Path:
    folder = audit_checkpoint_dir(settings, AUDIT) / MODEL
    for relative, content in FILES.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)
    return folder


def stored(settings: Settings, relative: str) -> str:
    _fs, root = store_of(settings)
    return f"{root}/{AUDIT}/{MODEL}/{relative}"


def store_fs(settings: Settings):
    fs, _root = store_of(settings)
    fs.invalidate_cache()
    return fs


def store_of(settings: Settings):
    store = artifact_store(settings)
    assert store is not None
    return store


def test_a_model_saved_on_one_machine_is_loaded_verified_on_another(tmp_path, store):
    maker = machine(tmp_path, "maker", store)
    location = publish(maker, AUDIT, MODEL, saved_model(maker))
    assert location == f"{store['artifact_url']}/{AUDIT}/{MODEL}"

    other = machine(tmp_path, "other", store)
    folder = local_copy(other, AUDIT, MODEL)
    assert folder == audit_checkpoint_dir(other, AUDIT) / MODEL
    assert {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()} == {
        **FILES,
        MANIFEST: (folder / MANIFEST).read_bytes(),
    }
    assert local_copy(maker, AUDIT, MODEL) == audit_checkpoint_dir(maker, AUDIT) / MODEL  # the maker's own copy


def test_a_run_fetches_a_stored_model_before_it_reads_the_database_and_nothing_else(tmp_path, store):
    maker = machine(tmp_path, "maker", store)
    publish(maker, AUDIT, MODEL, saved_model(maker))
    other = machine(tmp_path, "other", store)
    prefetch(other, AUDIT, "target")
    assert not audit_checkpoint_dir(other, AUDIT).exists()
    prefetch(other, AUDIT, MODEL)
    assert (audit_checkpoint_dir(other, AUDIT) / MODEL / "model.safetensors").read_bytes() == FILES["model.safetensors"]


def test_a_corrupted_or_missing_file_is_refused_and_nothing_is_left(tmp_path, store):
    maker = machine(tmp_path, "maker", store)
    publish(maker, AUDIT, MODEL, saved_model(maker))
    fs = store_fs(maker)
    fs.pipe_file(stored(maker, "model.safetensors"), b"\x00weights" * 999 + b"\x01weights")

    other = machine(tmp_path, "other", store)
    with pytest.raises(ArtifactError, match=r"'ga_new': model.safetensors differs from its manifest"):
        local_copy(other, AUDIT, MODEL)
    fs.rm(stored(maker, "config.json"))
    with pytest.raises(ArtifactError, match=r"'ga_new': config.json is missing from the store"):
        local_copy(other, AUDIT, MODEL)
    assert not any(audit_checkpoint_dir(other, AUDIT).iterdir())  # no partial download left behind

    fs.rm(stored(maker, MANIFEST))
    with pytest.raises(ArtifactError, match=r"'ga_new': not in the artifact store"):
        local_copy(other, AUDIT, MODEL)


def test_a_stale_copy_on_a_machine_is_replaced_by_the_stored_model(tmp_path, store):
    maker = machine(tmp_path, "maker", store)
    publish(maker, AUDIT, MODEL, saved_model(maker))
    other = machine(tmp_path, "other", store)
    folder = local_copy(other, AUDIT, MODEL)
    (folder / "model.safetensors").write_bytes(b"truncated")
    assert (local_copy(other, AUDIT, MODEL) / "model.safetensors").read_bytes() == FILES["model.safetensors"]


def test_an_evaluation_elsewhere_reads_the_uploaded_model_through_the_path_check(tmp_path, store):
    """The worker's own path: the audit's unlearning record, on a database both machines share."""
    with fresh_database("sqlite", tmp_path) as url:
        maker, other = (Settings(data_dir=tmp_path / name, database_url=url, **store) for name in ("maker", "other"))
        audit_id = audit_with_record(url, "gdr", f"{store['artifact_url']}/elsewhere")
        folder = audit_checkpoint_dir(maker, audit_id) / "gdr"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\0" * 64)
        (folder / "config.json").write_text("{}", encoding="utf-8")
        publish(maker, audit_id, "gdr", folder)
        with session_scope(url) as session:
            audit = session.get(Audit, audit_id)
            source = work.allowed_model_source(session, other, audit, stored_spec(audit), "gdr")
        assert source == (str(audit_checkpoint_dir(other, audit_id) / "gdr"), None)
        assert (Path(source[0]) / "model.safetensors").read_bytes() == b"\0" * 64


def test_a_worker_removes_its_copies_of_deleted_audits_only(tmp_path):
    with fresh_database("sqlite", tmp_path) as url:
        worker = Settings(data_dir=tmp_path / "worker", database_url=url, artifact_url=f"file://{tmp_path / 'store'}")
        kept_id = audit_with_record(url, "gdr", "elsewhere")
        folders = [audit_checkpoint_dir(worker, name) / "gdr" for name in (kept_id, "f" * 32, "notes")]
        for folder in folders:
            folder.mkdir(parents=True)
        remove_copies_of_deleted_audits(worker)
        assert [folder.exists() for folder in folders] == [True, False, True]


def audit_with_record(url: str, model: str, checkpoint: str) -> str:
    spec = {"target": {"model": "acme-org/model"}, "unlearning": [{"method": "ga_gdr", "name": model}],
            "corpus": "c", "metrics": ["verbmem_f"]}  # fmt: skip
    with session_scope(url) as session:
        tenant_id = create_key(session, "acme").tenant_id
        corpus = Corpus(tenant_id=tenant_id, sha256="0" * 64, document={}, parts={})
        session.add(corpus)
        session.flush()
        audit = Audit(tenant_id=tenant_id, corpus_id=corpus.id, spec={**spec, "corpus": corpus.id})
        session.add(audit)
        session.flush()
        run = Run(audit_id=audit.id, kind="unlearn", model=model, precision_label="full", precision={})
        session.add(run)
        session.flush()
        session.add(
            UnlearningRecordRow(run_id=run.id, audit_id=audit.id, model=model, checkpoint=checkpoint, record={})
        )
        return audit.id


def test_deleting_an_audit_deletes_its_stored_models_only(tmp_path, store):
    maker = machine(tmp_path, "maker", store)
    publish(maker, AUDIT, MODEL, saved_model(maker))
    fs = store_fs(maker)
    kept = stored(maker, "x").replace(f"/{AUDIT}/", "/a2/")
    fs.makedirs(posixpath.dirname(kept), exist_ok=True)
    fs.pipe_file(kept, b"another audit's")

    remove_audit_files(maker, AUDIT)
    fs.invalidate_cache()
    assert not fs.exists(stored(maker, MANIFEST))
    assert not audit_checkpoint_dir(maker, AUDIT).exists()
    assert fs.cat_file(kept) == b"another audit's"
    remove_audit_files(maker, AUDIT)  # nothing left to delete: no error


def test_without_a_store_the_checkpoint_folder_is_the_model(tmp_path):
    settings = Settings(data_dir=tmp_path)
    folder = saved_model(settings)
    assert publish(settings, AUDIT, MODEL, folder) == str(folder)
    assert local_copy(settings, AUDIT, MODEL) == folder
    assert not (folder / MANIFEST).exists()


def test_an_artifact_url_that_is_no_folder_url_is_refused_by_name(tmp_path):
    for bad in ("/srv/artifacts", "nosuchscheme://x/y", "s3://"):
        with pytest.raises(ValueError, match=r"artifact_url: an fsspec URL with a folder"):
            Settings(data_dir=tmp_path, artifact_url=bad)


def test_the_api_process_imports_no_s3_client_unless_configured(tmp_path):
    script = (
        "import sys\n"
        "from service.config import Settings\n"
        "from service.main import create_app\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}))\n"
        "print(sorted(name for name in ('s3fs', 'botocore', 'aiobotocore') if name in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert run.stdout.strip() == "[]"


def test_empty_artifact_settings_mean_none_and_a_bad_endpoint_is_named(tmp_path):
    settings = Settings(data_dir=tmp_path, artifact_url="", artifact_endpoint_url="")
    assert settings.artifact_url is None and settings.artifact_endpoint_url is None
    with pytest.raises(ValueError, match=r"artifact_endpoint_url: an http:// or https:// URL"):
        Settings(data_dir=tmp_path, artifact_url="s3://b/p", artifact_endpoint_url="127.0.0.1:9000")
