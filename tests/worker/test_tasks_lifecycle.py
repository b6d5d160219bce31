"""Run idempotency and progress, against a migrated SQLite database and a real (SQLite) broker queue:
a finished run is a no-op when re-delivered, a half-done one starts over without duplicate rows."""

import pytest
from kombu import Connection
from sqlalchemy import func, select, text

from service.db import session_scope
from service.keys.service import create_key
from service.models import Audit, Corpus, ItemScore, Run
from tests.service.databases import fresh_database
from worker.runs import lifecycle
from worker.runs.progress import RunCancelledError, RunProgress


@pytest.fixture
def database_url(tmp_path):
    with fresh_database("sqlite", tmp_path) as url:
        yield url


def make_audit(url: str, runs: list[Run]) -> tuple[str, list[str]]:
    with session_scope(url) as session:
        tenant_id = create_key(session, "lifecycle").tenant_id
        corpus = Corpus(tenant_id=tenant_id, sha256="0" * 64, document={}, parts={})
        session.add(corpus)
        session.flush()
        audit = Audit(tenant_id=tenant_id, corpus_id=corpus.id, spec={})
        session.add(audit)
        session.flush()
        for run in runs:
            run.audit_id = audit.id
        session.add_all(runs)
        session.flush()
        return audit.id, [run.id for run in runs]


def evaluate_run(model: str = "target", status: str = "queued") -> Run:
    return Run(kind="evaluate", model=model, precision_label="full", precision={"method": "full"}, status=status)


def items_writer(scores: list[float]) -> lifecycle.OutputWriter:
    def write(session, run, audit) -> None:
        session.add_all(
            ItemScore(run_id=run.id, audit_id=audit.id, model=run.model, precision_label="full", metric="verbmem_f",
                      item_index=index, score=score)
            for index, score in enumerate(scores)
        )  # fmt: skip

    return write


def item_scores(url: str, run_id: str) -> list[float]:
    with session_scope(url) as session:
        query = select(ItemScore.score).where(ItemScore.run_id == run_id).order_by(ItemScore.item_index)
        return list(session.scalars(query))


def run_row(url: str, run_id: str) -> Run:
    with session_scope(url) as session:
        return session.get(Run, run_id)


def test_a_finished_run_is_a_no_op_when_delivered_again(database_url):
    _audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    claim = lifecycle.claim(database_url, run_id)
    assert claim is not None and claim.model == "target"
    assert lifecycle.store(database_url, run_id, items_writer([0.5, 0.25]))
    assert run_row(database_url, run_id).status == "succeeded"
    assert lifecycle.claim(database_url, run_id) is None
    assert item_scores(database_url, run_id) == [0.5, 0.25]
    assert run_row(database_url, run_id).attempts == 1


def test_statuses_and_kinds_are_stored_as_the_words_the_api_shows(database_url):
    _audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    lifecycle.claim(database_url, run_id)
    query = text("SELECT r.status, r.kind, a.status FROM runs r JOIN audits a ON a.id = r.audit_id WHERE r.id = :id")
    with session_scope(database_url) as session:  # the raw column values, as rows written before the enums were
        assert tuple(session.execute(query, {"id": run_id}).one()) == ("running", "evaluate", "running")


def test_a_half_done_run_starts_over_without_duplicates(database_url):
    _audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    lifecycle.claim(database_url, run_id)
    with session_scope(database_url) as session:  # what a worker killed while storing could not have left,
        run = session.get(Run, run_id)  # but a buggy one might: stale rows of an earlier attempt
        items_writer([0.9, 0.9, 0.9])(session, run, session.get(Audit, run.audit_id))
    assert lifecycle.claim(database_url, run_id) is not None  # redelivered: still `running`, claimed again
    assert lifecycle.store(database_url, run_id, items_writer([0.1, 0.2]))
    assert item_scores(database_url, run_id) == [0.1, 0.2]
    assert run_row(database_url, run_id).attempts == 2


def test_runs_of_a_cancelled_audit_do_not_start(database_url):
    audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    with session_scope(database_url) as session:
        session.get(Audit, audit_id).status = "cancelled"
    assert lifecycle.claim(database_url, run_id) is None
    assert run_row(database_url, run_id).status == "cancelled"


def test_a_failed_unlearning_fails_the_runs_waiting_for_its_model(database_url):
    unlearn = Run(kind="unlearn", model="ga", precision_label="full", precision={"method": "full"})
    _audit_id, (unlearn_id, waiting_id, other_id) = make_audit(
        database_url, [unlearn, evaluate_run("ga", "waiting"), evaluate_run("target")]
    )
    lifecycle.claim(database_url, unlearn_id)
    lifecycle.close(database_url, unlearn_id, "failed", "ValueError: no forget text")
    waiting = run_row(database_url, waiting_id)
    assert waiting.status == "failed" and waiting.error.startswith("unlearning ga did not finish (failed")
    assert "ValueError" not in waiting.error  # the reason is stored once, in the unlearning run
    assert run_row(database_url, other_id).status == "queued"


def test_a_failed_audit_names_each_distinct_reason_once(database_url):
    runs = [Run(kind="evaluate", model="target", precision_label=f"p{i}", precision={}) for i in range(4)]
    _audit_id, run_ids = make_audit(database_url, runs)
    reasons = ["ModelSourceError: no model folder", "ModelSourceError: no model folder", "ValueError: x", None]
    for run_id, reason in zip(run_ids, reasons, strict=True):
        lifecycle.claim(database_url, run_id)
        if reason is None:
            lifecycle.store(database_url, run_id, items_writer([1.0]))
        else:
            lifecycle.close(database_url, run_id, "failed", reason)
    with session_scope(database_url) as session:
        stored = session.scalars(select(Run).where(Run.id.in_(run_ids)).order_by(Run.precision_label))
        summary = lifecycle.failed_runs_summary(list(stored))
    assert summary == (
        "3 of 4 runs failed: ModelSourceError: no model folder (2 runs); ValueError: x (evaluate target @ p2)"
    )


def test_the_summary_is_sent_once_the_last_run_is_done(database_url, tmp_path):
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    audit_id, run_ids = make_audit(database_url, [evaluate_run("target"), evaluate_run("u")])
    for run_id in run_ids:
        lifecycle.claim(database_url, run_id)
        lifecycle.store(database_url, run_id, items_writer([1.0]))
        lifecycle.finish_audit_when_done(database_url, broker_url, audit_id)
    with Connection(broker_url) as connection:
        queue = connection.SimpleQueue("cpu")
        message = queue.get(timeout=2)
        assert (message.headers["task"], message.decode()[0]) == ("unlearn_audit.summarize_audit", [audit_id])
        message.ack()
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.5)  # not sent after the first run: one run was still unfinished
        queue.close()


def test_progress_is_throttled_and_notices_a_cancel(database_url):
    audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    lifecycle.claim(database_url, run_id)
    progress = RunProgress(database_url, run_id, interval_s=3600)
    progress("verbmem_f", 1, 4)
    progress("verbmem_f", 2, 4)  # within the interval, same stage: not written
    row = run_row(database_url, run_id)
    assert (row.stage, row.share_done) == ("verbmem_f", 0.25)
    progress("verbmem_f", 4, 4)  # a finished stage is always written
    assert run_row(database_url, run_id).share_done == 1.0
    with session_scope(database_url) as session:
        session.get(Audit, audit_id).status = "cancelled"
    with pytest.raises(RunCancelledError):
        progress("knowmem_f", 0, 4)


def test_only_running_runs_store_outputs(database_url):
    _audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    assert not lifecycle.store(database_url, run_id, items_writer([1.0]))  # never claimed
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(ItemScore)) == 0


def test_a_run_that_keeps_losing_its_worker_fails_instead_of_looping(database_url):
    _audit_id, (run_id,) = make_audit(database_url, [evaluate_run()])
    for _ in range(lifecycle.MAX_ATTEMPTS):
        assert lifecycle.claim(database_url, run_id) is not None  # each time, the worker dies before storing
    assert lifecycle.claim(database_url, run_id) is None
    row = run_row(database_url, run_id)
    assert row.status == "failed" and f"started {lifecycle.MAX_ATTEMPTS} times" in row.error


def test_an_audit_whose_summary_cannot_be_made_ends_failed_with_the_reason(database_url, monkeypatch):
    from service.config import get_settings
    from worker.tasks import summarize_audit

    audit_id, _ = make_audit(database_url, [])  # its stored spec ({}) is not a valid AuditSpec
    monkeypatch.setenv("UNLEARN_AUDIT_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        summarize_audit(audit_id)  # called in this process, as a worker would
    finally:
        get_settings.cache_clear()
    with session_scope(database_url) as session:
        audit = session.get(Audit, audit_id)
        assert audit.status == "failed" and audit.error.startswith("summary: ValidationError")


def test_an_evaluation_waits_for_its_collision_and_the_targets_evaluation(database_url, tmp_path, monkeypatch):
    from service.config import get_settings

    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    monkeypatch.setenv("UNLEARN_AUDIT_BROKER_URL", broker_url)
    get_settings.cache_clear()
    rtn = {"precision_label": "rtn-w4-g64-asym", "precision": {"method": "rtn", "bits": 4, "group_size": 64}}
    runs = [Run(kind="collision", model="ga", **rtn), Run(kind="evaluate", model="target", **rtn),
            Run(kind="evaluate", model="ga", status="waiting", **rtn)]  # fmt: skip
    _audit_id, (collision_id, target_id, gated_id) = make_audit(database_url, runs)
    try:
        lifecycle.claim(database_url, collision_id)
        lifecycle.store(database_url, collision_id, items_writer([]))
        assert run_row(database_url, gated_id).status == "waiting"  # the target's results are not there yet
        lifecycle.claim(database_url, target_id)
        lifecycle.close(database_url, target_id, "failed", "RuntimeError: out of memory")
    finally:
        get_settings.cache_clear()
    assert run_row(database_url, gated_id).status == "queued"  # nothing to take: it evaluates by itself
    with Connection(broker_url) as connection:
        queue = connection.SimpleQueue("gpu")
        message = queue.get(timeout=2)
        assert (message.headers["task"], message.decode()[0]) == ("unlearn_audit.evaluate_run", [gated_id])
        message.ack()
        queue.close()
