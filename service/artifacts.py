"""An audit's files on disk: the models its unlearning runs save, under CHECKPOINT_DIR/<audit id>/<name>.

They go with the audit: the API removes the folder once the audit's rows are deleted, and a worker whose run
ends after its audit was deleted removes what that run saved meanwhile.
"""

import logging
import shutil
from pathlib import Path

from service.config import Settings

logger = logging.getLogger(__name__)


def audit_checkpoint_dir(settings: Settings, audit_id: str) -> Path:
    """Absolute: the folder is also a model root of its audit (worker/runs/work.py: allowed_model_source)."""
    return Path(str(settings.checkpoint_dir)).expanduser().absolute() / audit_id


def remove_audit_files(settings: Settings, audit_id: str) -> None:
    folder = audit_checkpoint_dir(settings, audit_id)
    if not folder.exists():
        return
    try:
        shutil.rmtree(folder)
    except OSError as error:  # the audit is gone either way; what is left is reported for the operator
        logger.warning("could not remove the files of deleted audit %s under %s: %s", audit_id, folder, error)
