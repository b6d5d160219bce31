"""Backlogs of run messages on a real broker, for the fairness test and the drain benchmark: audits with many
runs stored straight in the database (their spec is not valid, so that a run that starts fails at once) and
one message per run on the GPU queue."""

import uuid

from kombu import Connection
from redis import Redis

from service.db import session_scope
from service.keys.service import create_key
from service.models import Audit, Corpus, Run
from service.models.states import AuditStatus, RunKind, RunStatus
from service.queue import run_message, send_now

UNACKED_KEY = "unacked"  # kombu's Redis transport: the messages delivered and not yet acknowledged


def backlog_audit(database_url: str, tenant: str, runs: int, status: AuditStatus = AuditStatus.QUEUED) -> list[str]:
    """A new audit of `tenant` with `runs` evaluate runs, queued (or cancelled with the audit); the run ids."""
    run_status = RunStatus.CANCELLED if status == AuditStatus.CANCELLED else RunStatus.QUEUED
    with session_scope(database_url) as session:
        tenant_id = create_key(session, tenant).tenant_id
        corpus = Corpus(tenant_id=tenant_id, sha256=uuid.uuid4().hex * 2, document={}, parts={})
        session.add(corpus)
        session.flush()
        audit = Audit(tenant_id=tenant_id, corpus_id=corpus.id, spec={}, status=status)
        session.add(audit)
        session.flush()
        rows = [
            Run(audit_id=audit.id, kind=RunKind.EVALUATE, model=f"m{index}", precision_label="full",
                precision={"method": "full"}, status=run_status)
            for index in range(runs)
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def send_run_messages(broker_url: str, run_ids: list[str]) -> None:
    for run_id in run_ids:
        send_now(broker_url, run_message(run_id, RunKind.EVALUATE))


def messages_left(broker_url: str, queue: str) -> int:
    """Messages on the Redis queue plus those delivered and not acknowledged."""
    with Connection(broker_url) as connection:
        client: Redis = connection.default_channel.client
        return int(client.llen(queue)) + int(client.hlen(UNACKED_KEY))


def started_runs(database_url: str, run_ids: list[str]) -> int:
    """How many of these runs a worker has started (whatever became of them since)."""
    with session_scope(database_url) as session:
        return sum(session.get(Run, run_id).started_at is not None for run_id in run_ids)
