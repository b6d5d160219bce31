"""What a worker does around a run, on SQLite and PostgreSQL: the model source is checked again right before
loading, a failure is shown to the tenant without SQL or parameters (the run never stays `running`), and the
files of an audit deleted while its run worked are removed."""

import errno
import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service.artifacts import audit_checkpoint_dir
from service.audits.sources import ModelSourceError
from service.config import Settings, get_settings
from service.db import session_scope
from service.keys.service import create_key
from service.models import Audit, Corpus, ItemScore, Run, UnlearningRecordRow
from service.specs.audit import AuditSpec
from tests.service.databases import fresh_database
from tests.tiny_world import stand_in_models
from worker.runs import work
from worker.runs.errors import public_error
from worker.tasks import execute

SECRET_TEXT = "the forget passage nobody may read"


@pytest.fixture(params=["sqlite", "postgresql"])
def worker_settings(request, tmp_path, monkeypatch) -> Settings:
    """The process settings a worker reads (get_settings), on a fresh database of each backend."""
    with fresh_database(request.param, tmp_path) as url:
        environment = {
            "UNLEARN_AUDIT_DATA_DIR": str(tmp_path),
            "UNLEARN_AUDIT_DATABASE_URL": url,
            "UNLEARN_AUDIT_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
            "UNLEARN_AUDIT_MODEL_ROOTS": f'["{tmp_path / "models"}"]',
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield get_settings()
        get_settings.cache_clear()


def audit_with_run(settings: Settings, tenant: str, target: str) -> tuple[str, str]:
    spec = AuditSpec.model_validate({"target": {"model": target}, "unlearned": [{"name": "u", "model": target}],
                                     "corpus": "c", "metrics": ["verbmem_f"]})  # fmt: skip
    with session_scope(settings.sqlalchemy_url) as session:
        tenant_id = create_key(session, tenant).tenant_id
        corpus = Corpus(tenant_id=tenant_id, sha256="0" * 64, document={}, parts={})
        session.add(corpus)
        session.flush()
        audit = Audit(
            tenant_id=tenant_id, corpus_id=corpus.id, spec={**spec.model_dump(mode="json"), "corpus": corpus.id}
        )
        session.add(audit)
        session.flush()
        run = Run(audit_id=audit.id, kind="evaluate", model="target", precision_label="full", precision={})
        session.add(run)
        session.flush()
        return audit.id, run.id


def test_the_source_is_checked_again_right_before_loading(worker_settings, tmp_path):
    """A folder that was a model under the tenant's root at submission and became a symlink out of it."""
    model = stand_in_models(tmp_path / "models" / "acme", ("m",)) / "m"
    outside = stand_in_models(tmp_path / "elsewhere", ("secret",)) / "secret"
    audit_id, _ = audit_with_run(worker_settings, "acme", str(model))
    with session_scope(worker_settings.sqlalchemy_url) as session:
        audit = session.get(Audit, audit_id)
        spec = AuditSpec.model_validate(audit.spec)
        assert work.allowed_model_source(session, worker_settings, audit, spec, "target") == (str(model), None)
        for entry in model.iterdir():
            entry.unlink()
        model.rmdir()
        model.symlink_to(outside, target_is_directory=True)
        with pytest.raises(ModelSourceError, match="no model folder at this path under your model roots"):
            work.allowed_model_source(session, worker_settings, audit, spec, "target")


def test_an_unlearned_checkpoint_is_read_from_its_own_audit_only(worker_settings, tmp_path):
    audit_id, run_id = audit_with_run(worker_settings, "acme", "acme-org/model")
    other_id, _ = audit_with_run(worker_settings, "bcme", "acme-org/model")
    own = stand_in_models(audit_checkpoint_dir(worker_settings, audit_id), ("made",)) / "made"
    foreign = stand_in_models(audit_checkpoint_dir(worker_settings, other_id), ("made",)) / "made"
    with session_scope(worker_settings.sqlalchemy_url) as session:
        audit = session.get(Audit, audit_id)
        spec = AuditSpec.model_validate(audit.spec)
        record = UnlearningRecordRow(run_id=run_id, audit_id=audit_id, model="made", checkpoint=str(own), record={})
        session.add(record)
        session.flush()
        assert work.allowed_model_source(session, worker_settings, audit, spec, "made") == (str(own), None)
        record.checkpoint = str(foreign)
        session.flush()
        with pytest.raises(ModelSourceError, match="no model folder at this path"):
            work.allowed_model_source(session, worker_settings, audit, spec, "made")


def test_a_refused_write_fails_the_run_without_sql_or_parameters(worker_settings, tmp_path, caplog):
    _audit_id, run_id = audit_with_run(worker_settings, "acme", "acme-org/model")

    def compute(_settings, _claim, _progress):
        def write(session, run, audit) -> None:  # a row the database refuses (score is NOT NULL)
            session.add(ItemScore(run_id=run.id, audit_id=audit.id, model=run.model, precision_label="full",
                                  metric="verbmem_f", item_index=0, score=None, output=SECRET_TEXT))  # fmt: skip

        return write

    with caplog.at_level(logging.INFO):
        execute(run_id, compute)
    with session_scope(worker_settings.sqlalchemy_url) as session:
        run = session.get(Run, run_id)
        assert run.status == "failed"
        assert run.error == "IntegrityError: the database refused the run's results (the worker's log has the details)"
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "INSERT INTO item_scores" in failure.exc_text  # the details are in the log, without the parameters
    assert "[SQL parameters hidden due to hide_parameters=True]" in failure.exc_text
    routine = [r.getMessage() for r in caplog.records if r.levelno <= logging.INFO]
    assert not any(SECRET_TEXT in message or "INSERT" in message for message in routine)


def test_the_files_of_an_audit_deleted_while_its_run_worked_are_removed(worker_settings):
    audit_id, run_id = audit_with_run(worker_settings, "acme", "acme-org/model")
    folder = audit_checkpoint_dir(worker_settings, audit_id) / "u"

    def compute(settings, claim, _progress):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\0" * 64)
        with session_scope(settings.sqlalchemy_url) as session:  # DELETE /v1/audits/{id} meanwhile
            session.delete(session.get(Audit, claim.audit_id))
        return lambda session, run, audit: None

    execute(run_id, compute)
    assert not audit_checkpoint_dir(worker_settings, audit_id).exists()
    with session_scope(worker_settings.sqlalchemy_url) as session:
        assert session.scalars(select(Run).where(Run.id == run_id)).one_or_none() is None


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (OperationalError("INSERT INTO corpora (document) VALUES (?)", {"document": SECRET_TEXT}, Exception("x")),
         "OperationalError: the database refused the run's results (the worker's log has the details)"),
        (OSError(errno.ENOSPC, "No space left on device"),
         "OSError: the worker's disk is full (its log has the details)"),
        (ValueError("first line\nsecond line with more"), "ValueError: first line"),
        (ValueError("x" * 1000), "ValueError: " + "x" * 300 + "..."),
        (ValueError("quoting a\x00b"), "ValueError: quoting a\\u0000b"),
        (RuntimeError(), "RuntimeError: no reason given"),
    ],
)  # fmt: skip
def test_public_errors_name_the_type_and_a_short_reason(error, shown):
    assert public_error(error) == shown


def test_a_public_error_shows_no_path_outside_the_model_roots():
    error = OSError(
        "cannot read /models/acme/npo/model.safetensors (see /usr/lib/python3/site-packages/torch/serialization.py, "
        "https://huggingface.co/docs/x) nor /models/acme/../other/secret.bin"
    )
    assert public_error(error, [Path("/models/acme")]) == (
        "OSError: cannot read /models/acme/npo/model.safetensors (see …/serialization.py, "
        "https://huggingface.co/docs/x) nor …/secret.bin"
    )
    assert public_error(error) == f"OSError: {error}"  # the CLI, on the user's own machine: paths are kept
