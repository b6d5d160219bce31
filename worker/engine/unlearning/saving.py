"""Unlearned models on disk: an ordinary Hugging Face folder (safetensors) plus unlearning.json."""

import json
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.report import UnlearningRecord

RECORD_FILE = "unlearning.json"


def save_model_folder(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, record: UnlearningRecord, folder: Path
) -> Path:
    """Write the model, its tokenizer and the record (with `checkpoint` set to the folder); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    stored = record.model_copy(update={"checkpoint": str(folder.resolve())})
    (folder / RECORD_FILE).write_text(stored.model_dump_json(indent=1), encoding="utf-8")
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
