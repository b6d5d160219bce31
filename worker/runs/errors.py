"""What a tenant is told when a run fails: the error's type and a short reason, never a database statement
nor a path outside the tenant's model roots.

The full error, with its traceback, goes to the worker's log; the run row keeps only `public_error(error)`.
"""

import os
import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from service.disk import is_disk_full
from service.specs.text import text_problem

MAX_REASON_CHARS = 300
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/[^\s'\"`,;()\[\]{}<>]+")


def public_error(error: BaseException, roots: Sequence[Path] | None = None) -> str:
    """`Type: reason` for a failed run or summary: storage errors get a fixed reason (their text holds SQL);
    with `roots`, an absolute path outside them is shown as `…/<its last part>` (None: paths are kept, for the
    CLI on the user's own machine)."""
    if is_disk_full(error):
        return f"{type(error).__name__}: the worker's disk is full (its log has the details)"
    if isinstance(error, SQLAlchemyError):
        return f"{type(error).__name__}: the database refused the run's results (the worker's log has the details)"
    reason = next(iter(str(error).strip().splitlines()), "") or "no reason given"
    if roots is not None:
        reason = ABSOLUTE_PATH.sub(lambda match: _shown_path(match.group(0), roots), reason)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "..."
    if text_problem(reason):  # a reason quoting text no database can store
        reason = reason.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\u0000")
    return f"{type(error).__name__}: {reason}"


def _shown_path(path: str, roots: Sequence[Path]) -> str:
    if any(Path(os.path.normpath(path)).is_relative_to(root) for root in roots):
        return path
    return f"…/{Path(path).name}"
