"""The result cache of the in-process runner (`unlearn-audit run --cache DIR`): one JSON file per key.

A file holds what a later audit needs to reuse a variant's results: the audit that computed them, the
variant's results and its per-item evidence. Files are written whole (to a temporary name, then renamed),
so a reader never sees half of one. The service keeps the same entries in its database, per tenant.
"""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from service.specs.report import ItemRecord, VariantResult
from worker.engine.model_digest import FileDigests
from worker.engine.variant import VariantOutcome


@dataclass(frozen=True)
class CachedResult:
    audit_id: str
    outcome: VariantOutcome


class FolderCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = FileDigests(root / "file-digests")

    def _path(self, key: str) -> Path:
        return self.root / "results" / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedResult | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            variant = VariantResult.model_validate(entry["variant"])
            items = [ItemRecord.model_validate(item) for item in entry["items"]]
            return CachedResult(str(entry["audit_id"]), VariantOutcome(variant, items))
        except (OSError, ValueError, KeyError, TypeError):  # an unreadable entry is a miss, rewritten later
            return None

    def put(self, key: str, audit_id: str, outcome: VariantOutcome) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "audit_id": audit_id,
            "variant": outcome.variant.model_dump(mode="json"),
            "items": [item.model_dump(mode="json") for item in outcome.items],
        }
        handle, partial = tempfile.mkstemp(prefix=".partial-", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as sink:
            json.dump(entry, sink)
        os.replace(partial, path)
