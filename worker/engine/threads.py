"""How many threads torch uses for evaluation on this worker (a setting; default the cores it may use).

Torch's default, all the machine's cores, makes a busy core slow every matrix product of a pass (measured: a
7x slowdown with one core taken by another process). The embedded server shares its process with the API,
so it leaves a core for it.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def thread_count(setting: int | None, *, reserved_cores: int = 0) -> int:
    """The setting when given, else the usable cores minus those reserved for other work (at least one)."""
    if setting is not None:
        return setting
    return max(1, usable_cores() - reserved_cores)


def apply_thread_count(setting: int | None, *, reserved_cores: int = 0) -> int:
    """Set torch's intra-op thread count for this process; returns the count set."""
    count = thread_count(setting, reserved_cores=reserved_cores)
    torch.set_num_threads(count)
    return count


@contextmanager
def temporary_thread_count(setting: int | None) -> Iterator[int]:
    """Torch's thread count set as apply_thread_count does, with no core reserved, then restored: for work the
    process does before its worker has anything of its own to run (the embedded server building its demo before
    submitting it; torch's count is per process, so a run recovered at start-up shares those threads meanwhile)."""
    before = torch.get_num_threads()
    try:
        yield apply_thread_count(setting)
    finally:
        torch.set_num_threads(before)
