"""The last loaded model of this worker process, so that a model's precisions do not each re-read it."""

from pathlib import Path

import torch

from worker.engine.model_digest import WEIGHT_SUFFIXES
from worker.engine.models import LoadedModel, load_model, release_memory, resolve_checkpoint


class ModelTooLargeError(RuntimeError):
    pass


class ModelCache:
    """Holds one model: runs are queued model by model, so consecutive runs of a worker mostly share it."""

    def __init__(self) -> None:
        self._key: tuple[str, str, str | None, torch.dtype | None] | None = None
        self._loaded: LoadedModel | None = None

    def get(
        self, name: str, source: str, revision: str | None, max_bytes: int, dtype: torch.dtype | None = None
    ) -> LoadedModel:
        """The model in `dtype` (None: as stored)."""
        key = (name, source, revision, dtype)
        if self._key == key and self._loaded is not None:
            return self._loaded
        self.clear()
        folder, _commit = resolve_checkpoint(source, revision)
        check_size(source, folder, max_bytes)
        self._loaded = load_model(name, source, revision, dtype=dtype)
        self._key = key
        return self._loaded

    def clear(self) -> None:
        if self._loaded is not None:
            self._loaded, self._key = None, None
            release_memory()


def check_size(source: str, folder: Path, max_bytes: int) -> None:
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if size > max_bytes:
        raise ModelTooLargeError(
            f"model '{source}': its weights take {size} bytes, above the worker's limit of {max_bytes} "
            "(UNLEARN_AUDIT_MAX_MODEL_BYTES)"
        )


MODEL_CACHE = ModelCache()
