"""Unlearned models on disk: an ordinary Hugging Face folder (safetensors) plus unlearning.json."""

import json
import shutil
import tempfile
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.report import UnlearningRecord

RECORD_FILE = "unlearning.json"


def save_model_folder(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, record: UnlearningRecord, folder: Path
) -> Path:
    """Write the model, its tokenizer and the record (with `checkpoint` set to the folder); returns it.

    Everything is written to a temporary folder beside it, renamed into place once complete: a save that fails
    (a full disk) leaves no partial folder behind, and an earlier folder of that name is replaced whole.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        stored = record.model_copy(update={"checkpoint": str(folder.resolve())})
        (partial / RECORD_FILE).write_text(stored.model_dump_json(indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def read_record(folder: Path) -> UnlearningRecord | None:
    """The record of a folder written by save_model_folder, None for a model made elsewhere."""
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        return UnlearningRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not a valid unlearning record ({error})") from None
