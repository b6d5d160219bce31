"""The state machines' vocabulary: what a run is, and where runs, audits and webhook deliveries stand.

The values are what the database stores and the API returns (the dashboard reads them), so they never change.
A run goes waiting -> queued (its prerequisites finished) -> running (a worker claimed it) -> succeeded | failed |
cancelled; an audit goes queued -> running (its first run was claimed) -> succeeded | failed | cancelled.
"""

from enum import StrEnum

# The stage of a queued run whose message the broker did not take (the API shows it; the resend loop sends it).
UNSENT_STAGE = "not sent yet: the queue did not answer"


class RunKind(StrEnum):
    UNLEARN = "unlearn"  # make an unlearned model from a recipe
    EVALUATE = "evaluate"  # one variant (model x precision) on the metrics
    COLLISION = "collision"  # one (unlearned model, quantizer) pair's codes against the target's


class RunStatus(StrEnum):
    WAITING = "waiting"  # for runs of the same audit to finish first (service.runs.dependencies)
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def finished(cls) -> frozenset["RunStatus"]:
        return frozenset({cls.SUCCEEDED, cls.FAILED, cls.CANCELLED})

    @classmethod
    def open(cls) -> frozenset["RunStatus"]:
        """Handed to the workers and not finished: a message for it is (or should be) on the broker."""
        return frozenset({cls.QUEUED, cls.RUNNING})

    @classmethod
    def pending(cls) -> frozenset["RunStatus"]:
        """Not started: a cancel stops these at once."""
        return frozenset({cls.WAITING, cls.QUEUED})


class AuditStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def finished(cls) -> frozenset["AuditStatus"]:
        return frozenset({cls.SUCCEEDED, cls.FAILED, cls.CANCELLED})

    @classmethod
    def open(cls) -> frozenset["AuditStatus"]:
        return frozenset({cls.QUEUED, cls.RUNNING})


class DeliveryStatus(StrEnum):
    """A webhook delivery's; its attempts are counted on the row."""

    PENDING = "pending"  # an attempt is due at next_attempt_at, or under way
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    FAILED = "failed"  # not accepted within the give-up time after the event (a setting)
