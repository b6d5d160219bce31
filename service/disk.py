"""Disk space: recognising a full disk in any layer's error, and measuring free space for readiness.

A full disk shows up as OSError ENOSPC (files), SQLite's SQLITE_FULL ("database or disk is full") or
PostgreSQL's disk_full (SQLSTATE 53100), usually wrapped by SQLAlchemy; each is recognised here.
"""

import errno
import shutil
from pathlib import Path

SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"
DISK_FULL_DETAIL = "the server's disk is full: nothing was stored; deleting audits or corpora frees space"


def is_disk_full(error: BaseException) -> bool:
    """Whether the error, or one it was raised from or wraps, is the storage running out of space."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _says_full(current):
            return True
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return False


def _says_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if getattr(error, "sqlite_errorcode", None) == SQLITE_FULL:
        return True
    return getattr(error, "sqlstate", None) == POSTGRES_DISK_FULL


def free_bytes(folder: Path) -> int:
    """Free space of the file system a folder is on (its nearest existing parent, when it is yet to be made)."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    return shutil.disk_usage(existing).free
