"""What a tenant is told when a run fails: the error's type and a short reason, never a database statement.

The full error, with its traceback, goes to the worker's log; the run row keeps only `public_error(error)`.
"""

from sqlalchemy.exc import SQLAlchemyError

from service.disk import is_disk_full
from service.specs.text import text_problem

MAX_REASON_CHARS = 300


def public_error(error: BaseException) -> str:
    """`Type: reason` for a failed run or summary: storage errors get a fixed reason (their text holds SQL)."""
    if is_disk_full(error):
        return f"{type(error).__name__}: the worker's disk is full (its log has the details)"
    if isinstance(error, SQLAlchemyError):
        return f"{type(error).__name__}: the database refused the run's results (the worker's log has the details)"
    reason = next(iter(str(error).strip().splitlines()), "") or "no reason given"
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "..."
    if text_problem(reason):  # a reason quoting text no database can store
        reason = reason.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\u0000")
    return f"{type(error).__name__}: {reason}"
