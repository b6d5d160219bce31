"""Loading causal LMs and their tokenizers from a hub id or a local folder.

`trust_remote_code` is always off. Hub revisions are resolved to a commit and recorded; a token for gated
models comes from the environment (HF_TOKEN). Models go to CUDA when present, else the CPU.
"""

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from service.specs.naming import is_hub_id
from service.specs.report import ModelProvenance

CHECKPOINT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]


class ModelLoadError(RuntimeError):
    """A model source that cannot be loaded; the message names the source and the reason."""

    def __init__(self, source: str, reason: str):
        self.source = source
        super().__init__(f"cannot load model '{source}': {reason}")


@dataclass
class LoadedModel:
    name: str
    source: str
    checkpoint_dir: Path  # a local folder with the safetensors files (hub snapshots are downloaded first)
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    revision: str | None = None  # resolved commit for hub models
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> str:
        return str(next(self.model.parameters()).dtype).removeprefix("torch.")

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def provenance(self) -> ModelProvenance:
        return ModelProvenance(
            name=self.name,
            source=self.source,
            revision=self.revision,
            dtype=self.dtype,
            n_parameters=self.n_parameters,
            device=str(self.device),
        )


def release_memory() -> None:
    """Return the memory of models just dropped (and CUDA's cached blocks) before the next one is built."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_checkpoint(source: str, revision: str | None = None) -> tuple[Path, str | None]:
    """A local folder for `source` and, for hub ids, the commit it resolved to.

    A hub id (org/name) is only ever looked up on the hub, never as a folder of that name here; anything else
    is a local folder (relative paths from the working directory), which has no revisions.
    """
    if is_hub_id(source):
        return _hub_snapshot(source, revision)
    if revision is not None:
        raise ModelLoadError(source, "a local folder has no revisions (only hub models do)")
    path = Path(source).expanduser().resolve()
    if not (path / "config.json").is_file():
        raise ModelLoadError(source, "no Hugging Face model folder (with a config.json) at this path")
    return path, None


def _hub_snapshot(source: str, revision: str | None) -> tuple[Path, str]:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            source,
            revision=revision,
            allow_patterns=CHECKPOINT_PATTERNS,
            token=os.environ.get("HF_TOKEN") or None,
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as error:
        raise ModelLoadError(
            source, f"not found on the hub or in the local cache ({type(error).__name__}: {error})"
        ) from None
    return Path(folder), Path(folder).name  # snapshot folders are named by their commit hash


def load_model(
    name: str,
    source: str,
    revision: str | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """Load a model once; every precision of it is later built from these weights in memory."""
    checkpoint_dir, commit = resolve_checkpoint(source, revision)
    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint_dir, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            checkpoint_dir, trust_remote_code=False, dtype=dtype or "auto", low_cpu_mem_usage=True
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelLoadError(source, f"{type(error).__name__}: {error}") from None
    model.to(device or default_device())
    model.eval()
    prepare_tokenizer(tokenizer)
    return LoadedModel(name, source, checkpoint_dir, model, tokenizer, revision=commit)


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> None:
    """Left padding for batched generation; a pad token when the tokenizer has none."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token


def context_length(model: PreTrainedModel) -> int:
    config = model.config
    for attribute in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048
