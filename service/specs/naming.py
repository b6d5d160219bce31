"""Names given to models in a spec, and the shapes of hub ids and revisions."""

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

TARGET_NAME = "target"
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
"""Names that are also safe as one folder name: models in a spec, tenants (model roots are ROOT/TENANT)."""

ModelName = Annotated[str, StringConstraints(pattern=PLAIN_NAME.pattern)]

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")
"""`org/name`: always a hub model, never a local folder of that name."""

_REF_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_\-]|\.[A-Za-z0-9_\-])*"  # no "..", no trailing "."
_REVISION = re.compile(rf"^{_REF_PART}(?:/{_REF_PART})*$")  # a 40-hex commit is one part too


def is_plain_name(name: str) -> bool:
    return PLAIN_NAME.match(name) is not None


def is_hub_id(source: str) -> bool:
    return HUB_ID.match(source) is not None


def _revision_shape(revision: str) -> str:
    if not _REVISION.match(revision):
        raise ValueError(
            "expected a branch or tag name (letters, digits, '_', '-', '.' and '/', no '..') or a 40-hex commit"
        )
    return revision


RevisionName = Annotated[str, StringConstraints(max_length=128), AfterValidator(_revision_shape)]
"""A hub branch or tag (e.g. `main`, `v1.0`, `refs/pr/3`) or a 40-hex commit."""
