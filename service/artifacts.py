"""An audit's files: the models its unlearning runs save, under CHECKPOINT_DIR/<audit id>/<name>, and, when
ARTIFACT_URL is set, their shared copies under ARTIFACT_URL/<audit id>/<name>/ (written by the worker that
made them, read by every other: worker/runs/artifacts.py).

They go with the audit: the API removes the folder and the store's prefix once the audit's rows are deleted,
and a worker whose run ends after its audit was deleted removes what that run saved meanwhile.
"""

import logging
import shutil
from pathlib import Path

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from service.config import Settings

logger = logging.getLogger(__name__)


def audit_checkpoint_dir(settings: Settings, audit_id: str) -> Path:
    """Absolute: the folder is also a model root of its audit (worker/runs/work.py: allowed_model_source)."""
    return Path(str(settings.checkpoint_dir)).expanduser().absolute() / audit_id


def artifact_store(settings: Settings) -> tuple[AbstractFileSystem, str] | None:
    """The shared store's file system and root path; None when models stay in checkpoint_dir.

    The file system's package (s3fs for s3://) is imported here, on first use: never when no store is set.
    """
    if settings.artifact_url is None:
        return None
    options = {"endpoint_url": settings.artifact_endpoint_url} if settings.artifact_endpoint_url else {}
    fs, root = url_to_fs(settings.artifact_url, **options)
    return fs, root.rstrip("/")


def remove_audit_files(settings: Settings, audit_id: str) -> None:
    folder = audit_checkpoint_dir(settings, audit_id)
    if folder.exists():
        try:
            shutil.rmtree(folder)
        except OSError as error:  # the audit is gone either way; what is left is reported for the operator
            logger.warning("could not remove the files of deleted audit %s under %s: %s", audit_id, folder, error)
    store = artifact_store(settings)
    if store is not None:
        remove_stored(*store, audit_id)


def remove_stored(fs: AbstractFileSystem, root: str, audit_id: str) -> None:
    prefix = f"{root}/{audit_id}"
    try:
        fs.invalidate_cache(prefix)
        if fs.exists(prefix):
            fs.rm(prefix, recursive=True)
    except OSError as error:
        logger.warning("could not remove the stored files of deleted audit %s under %s: %s", audit_id, prefix, error)
