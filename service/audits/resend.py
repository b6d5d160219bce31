"""Sending what was stored while the broker did not answer, once it answers again.

Each run is taken by a conditional update before its message goes out, so that two API processes never
send the same run twice (a second message for a running run would start it over on another worker). An
audit whose runs are all finished but which was never summarised (its summary message was lost) gets its
summary task again, once per API process (the task does nothing for an audit that is already summarised,
and a broker with no CPU worker listening would otherwise collect one more every round).
"""

import logging
import threading
from collections.abc import Collection
from datetime import timedelta

from service.db import engine_for, session_scope
from service.models.base import utc_now
from service.queue import mark_unsent, run_message, send_now, summary_message
from service.runs import repository as run_repository

SUMMARY_GRACE_S = 60.0  # a summary message normally runs within seconds of the last run

logger = logging.getLogger(__name__)


def resend_unsent_runs(database_url: str, broker_url: str) -> int:
    """Send every unsent queued run; stops at the first failure (the broker is still down). Returns how many went."""
    with session_scope(database_url) as session:
        pending = run_repository.unsent(session)
    sent = 0
    for run_id, kind in pending:
        with session_scope(database_url) as session:
            taken = run_repository.take_unsent(session, run_id)
        if not taken:
            continue  # sent by another process, or cancelled, meanwhile
        try:
            send_now(broker_url, run_message(run_id, kind))
        except Exception as error:  # the broker is still down: put the run back for the next round
            mark_unsent(engine_for(database_url), [run_id])
            logger.warning("resending queued runs: the broker still does not answer: %s", error)
            break
        sent += 1
    return sent


def resend_missing_summaries(
    database_url: str, broker_url: str, grace_s: float = SUMMARY_GRACE_S, skip: Collection[str] = ()
) -> list[str]:
    """Send the summary task of every open audit whose runs all finished more than `grace_s` ago, but those
    in `skip`; returns the ids of the audits whose summary was sent."""
    finished_before = utc_now() - timedelta(seconds=grace_s)
    with session_scope(database_url) as session:
        awaiting = run_repository.audits_awaiting_summary(session, finished_before)
    audit_ids = [audit_id for audit_id in awaiting if audit_id not in skip]
    for audit_id in audit_ids:
        send_now(broker_url, summary_message(audit_id))
    return audit_ids


class ResendLoop:
    """A daemon thread that resends unsent runs and lost summaries every `interval_s` seconds until stopped."""

    def __init__(self, database_url: str, broker_url: str, interval_s: float):
        self.database_url, self.broker_url, self.interval_s = database_url, broker_url, interval_s
        self._stopped = threading.Event()
        self._summaries_sent: set[str] = set()  # once per audit and process: no pile-up while workers are away
        self._thread = threading.Thread(target=self._run, name="resend-unsent-runs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            try:
                resend_unsent_runs(self.database_url, self.broker_url)
                sent = resend_missing_summaries(self.database_url, self.broker_url, skip=self._summaries_sent)
                self._summaries_sent.update(sent)
            except Exception:  # a database or broker hiccup must not end the loop; the next round tries again
                logger.exception("resending stored work failed")
