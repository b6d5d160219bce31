"""Names and labels of audits and corpora: what a person reads in lists and what queries filter on.

A name is free text (bounded, storable). Labels are string key-value pairs: at most MAX_LABELS, keys of
letters, digits, '_', '.', '-' and '/' starting with a letter or digit, values bounded and storable. The same
`key:value` form is how a label is given in a query (`?label=team:risk`), to filter on or to set on upload.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from service.specs.text import text_problem

MAX_NAME_LENGTH = 200
MAX_LABELS = 20
MAX_KEY_LENGTH = 63
MAX_VALUE_LENGTH = 200
LABEL_KEY = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_./\-]{{0,{MAX_KEY_LENGTH - 1}}}$")
KEY_RULE = f"a key is 1-{MAX_KEY_LENGTH} letters, digits, '_', '.', '-' or '/', starting with a letter or digit"


def _storable(text: str) -> str:
    if problem := text_problem(text):
        raise ValueError(problem)
    return text


def label_problem(key: str, value: str) -> str | None:
    """Why one label cannot be stored, or None."""
    if not LABEL_KEY.match(key):
        return f"label key {key!r}: {KEY_RULE}"
    if len(value) > MAX_VALUE_LENGTH:
        return f"label {key!r}: the value is longer than {MAX_VALUE_LENGTH} characters"
    if problem := text_problem(value):
        return f"label {key!r}: the value {problem}"
    return None


def checked_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels, got {len(labels)}")
    for key, value in labels.items():
        if problem := label_problem(key, value):
            raise ValueError(problem)
    return labels


def label_pair(text: str) -> tuple[str, str]:
    """`key:value` as (key, value); the value may hold ':' and may be empty."""
    key, colon, value = text.partition(":")
    if not colon:
        raise ValueError(f"{text!r}: expected key:value, e.g. team:risk")
    if problem := label_problem(key, value):
        raise ValueError(problem)
    return key, value


def labels_from_pairs(pairs: list[str] | None) -> dict[str, str]:
    """Labels given as repeated `key:value` query values (on upload): each key once."""
    labels: dict[str, str] = {}
    for key, value in map(label_pair, pairs or []):
        if key in labels:
            raise ValueError(f"label key {key!r} given twice")
        labels[key] = value
    return checked_labels(labels)


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_storable)]
Labels = Annotated[dict[str, str], AfterValidator(checked_labels)]
