"""Text that no database can store: NUL characters and unpaired surrogates.

PostgreSQL refuses both in text and JSON values (SQLite stores them), so they are refused where text enters:
the spec shapes, corpus bundles, and the path, query and headers of every request. One check for all. Text
a model generates is made storable instead (`storable`): it is evidence, kept as close to what came out.
"""

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why a text cannot be stored, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return f"contains an unpaired surrogate (\\u{ord(found.group()):04x})"


def storable(text: str) -> str:
    """The text with each unstorable character replaced by U+FFFD (the replacement character)."""
    return _UNSTORABLE.sub("\ufffd", text)


def first_text_problem(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The first unstorable text in a JSON-like value (keys too), as (location inside it, reason)."""
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else ((), problem)
    if isinstance(value, dict):
        entries: Any = value.items()
    elif isinstance(value, list | tuple):
        entries = enumerate(value)
    else:
        return None
    for key, item in entries:
        if isinstance(key, str) and (problem := text_problem(key)):
            return (key,), f"key {problem}"
        found = first_text_problem(item)
        if found is not None:
            return (key, *found[0]), found[1]
    return None
