"""Sending work to the workers by task name (the service never imports `worker`), after the commit.

`enqueue_after_commit` parks a message on the session; it is sent only once the session's transaction has
committed, so that a worker never receives the id of a row that was rolled back. When the broker cannot be
reached, what was committed stays committed: the runs whose messages were not sent are marked with
UNSENT_STAGE (service.models.states; the API shows it) and `service.audits.resend` sends them once the broker
answers again.

QUEUE_BY_TASK is the one routing table: the messages sent here and the worker's Celery routes both read it.
"""

import logging
from dataclasses import dataclass
from functools import lru_cache

import kombu
from celery import Celery
from kombu.exceptions import ChannelError
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from service.config import CPU_QUEUE, GPU_QUEUE, get_settings
from service.models.states import RunKind
from service.runs import repository as run_repository

EVALUATE_TASK = "unlearn_audit.evaluate_run"
COLLISION_TASK = "unlearn_audit.collision_run"
UNLEARN_TASK = "unlearn_audit.unlearn_run"
SUMMARY_TASK = "unlearn_audit.summarize_audit"
DELIVER_WEBHOOK_TASK = "unlearn_audit.deliver_webhook"

QUEUE_BY_TASK = {
    EVALUATE_TASK: GPU_QUEUE,
    UNLEARN_TASK: GPU_QUEUE,
    COLLISION_TASK: CPU_QUEUE,
    SUMMARY_TASK: CPU_QUEUE,
    DELIVER_WEBHOOK_TASK: CPU_QUEUE,
}
TASK_BY_RUN_KIND = {RunKind.EVALUATE: EVALUATE_TASK, RunKind.UNLEARN: UNLEARN_TASK, RunKind.COLLISION: COLLISION_TASK}
_OUTBOX = "task_outbox"
_BROKER_URL = "broker_url"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    task: str
    args: tuple[str, ...]
    countdown_s: float | None = None  # not run before this many seconds after it is sent

    @property
    def queue(self) -> str:
        return QUEUE_BY_TASK[self.task]


@lru_cache(maxsize=4)
def sender_app(broker_url: str) -> Celery:
    """A Celery client: enough to publish messages, with no task code."""
    return Celery("unlearn-audit-client", broker=broker_url, set_as_current=False)


def run_message(run_id: str, kind: RunKind) -> Message:
    return Message(TASK_BY_RUN_KIND[kind], (run_id,))


def summary_message(audit_id: str) -> Message:
    return Message(SUMMARY_TASK, (audit_id,))


def enqueue_after_commit(session: Session, broker_url: str, message: Message) -> None:
    session.info.setdefault(_OUTBOX, []).append((broker_url, message))


def use_broker(session: Session, broker_url: str) -> None:
    """Tell code that has only the session (such as webhook events) where its messages go."""
    session.info[_BROKER_URL] = broker_url


def broker_of(session: Session) -> str:
    """The broker of `use_broker` (the API's request sessions), else the process's settings (workers, CLI)."""
    return session.info.get(_BROKER_URL) or str(get_settings().broker_url)


def send_now(broker_url: str, message: Message) -> None:
    app = sender_app(broker_url)
    app.send_task(message.task, args=message.args, queue=message.queue, countdown=message.countdown_s)


def mark_unsent(bind: Engine | Connection, run_ids: list[str]) -> None:
    """Flag queued runs whose message could not be published, for the resend loop."""
    with Session(bind) as session, session.begin():
        run_repository.mark_unsent(session, run_ids)


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    outbox = session.info.pop(_OUTBOX, [])
    for position, (broker_url, message) in enumerate(outbox):
        try:
            send_now(broker_url, message)
        except Exception as error:  # whatever the transport raises: the stored work must not be lost with it
            unsent = [m for _, m in outbox[position:]]
            logger.warning("the broker did not take %d message(s), kept for resending: %s", len(unsent), error)
            run_ids = [m.args[0] for m in unsent if m.task in TASK_BY_RUN_KIND.values()]
            if run_ids:
                mark_unsent(session.get_bind(), run_ids)
            return


@event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_OUTBOX, None)


def queue_depths(broker_url: str, timeout_s: float = 2.0) -> dict[str, int]:
    """Messages waiting on each of the broker's queues (a queue never declared holds none)."""
    depths = {}
    with kombu.Connection(broker_url, connect_timeout=timeout_s) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout_s)
        channel = connection.default_channel
        for queue in sorted(set(QUEUE_BY_TASK.values())):
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:
                depths[queue] = 0
    return depths
