"""What a list request asks for, and its cursor: an opaque token naming the last row of the page before."""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

Sort = Literal["-created_at", "created_at", "name", "-name"]
SORTS: tuple[str, ...] = get_args(Sort)


@dataclass(frozen=True)
class Cursor:
    """The sort the page was made with, and the sort key and id of its last row."""

    sort: Sort
    key: str | datetime
    id: str

    def encode(self) -> str:
        key = self.key.isoformat() if isinstance(self.key, datetime) else self.key
        raw = json.dumps([self.sort, key, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        """The cursor a `next` link carries; ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sort, key, identifier = json.loads(raw)
        except (binascii.Error, ValueError, TypeError) as error:
            raise ValueError("not a cursor of this API: take it from a page's `next` link") from error
        if sort not in SORTS or not isinstance(key, str) or not isinstance(identifier, str):
            raise ValueError("not a cursor of this API: take it from a page's `next` link")
        return cls(sort=sort, key=datetime.fromisoformat(key) if sort.endswith("created_at") else key, id=identifier)


@dataclass(frozen=True)
class ListQuery:
    """Filters every list has (labels: all must match), the sort, and where the page starts."""

    limit: int
    offset: int = 0
    after: Cursor | None = None
    sort: Sort = "-created_at"
    labels: tuple[tuple[str, str], ...] = field(default=())
    created_before: datetime | None = None
    created_after: datetime | None = None
