"""Progress reporting shared by the engine's long stages (CLI bars, API progress rows)."""

from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None:
        """`stage` names the work (e.g. 'verbmem_f'), `done` of `total` units are finished."""


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: report nothing."""
