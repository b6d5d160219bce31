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
from worker.engine.model_digest import content_digest

CHECKPOINT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]
TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""The spec's dtype names (service.specs.evaluation, precision compute dtypes); `stored` is no cast."""


def evaluation_dtype(name: str) -> torch.dtype | None:
    """The torch dtype of the spec's `evaluation.dtype`; None for `stored` (the checkpoint's own)."""
    return TORCH_DTYPES.get(name)


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
    content_sha256: str | None = None  # local folders: worker.engine.model_digest.content_digest
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
            content_sha256=self.content_sha256,
            dtype=self.dtype,
            n_parameters=self.n_parameters,
            device=str(self.device),
        )


def release_memory() -> None:
    """Return the memory of models just dropped (and CUDA's cached blocks) before the next one is built."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


KV_ROW_TOKENS = 4096  # tokens of key/value cache budgeted per batch row (MUSE's longest prompts and texts)
GPU_MEMORY_SHARE = 0.8  # of the free GPU memory that batches may take (the allocator fragments)


def resolve_device(setting: str) -> torch.device:
    """'auto': the first CUDA device when one is visible, else the CPU; or 'cpu', 'cuda', 'cuda:N' as given."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def default_device() -> torch.device:
    """The device of the worker's settings (UNLEARN_AUDIT_DEVICE, default auto)."""
    from service.config import get_settings

    return resolve_device(get_settings().device)


def batch_size_for(model: PreTrainedModel, requested: int) -> int:
    """Items per batch: the worker's setting, or on CUDA what fits in free memory, never above `requested`.

    A row of a batch costs its key/value cache (2 x layers x kv heads x head dim x dtype bytes per token,
    for KV_ROW_TOKENS tokens); on a CPU memory is not the limit, so the spec's batch size stands.
    """
    from service.config import get_settings

    configured = get_settings().batch_size
    if configured is not None:
        return min(configured, requested)
    device = next(model.parameters()).device
    if device.type != "cuda":
        return requested
    config = model.config.get_text_config()
    heads = getattr(config, "num_attention_heads", 1)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    dtype_bytes = next(model.parameters()).element_size()
    row_bytes = 2 * config.num_hidden_layers * kv_heads * head_dim * dtype_bytes * KV_ROW_TOKENS
    free_bytes, _total = torch.cuda.mem_get_info(device)
    return max(1, min(requested, int(free_bytes * GPU_MEMORY_SHARE) // row_bytes))


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
    digest = content_digest(checkpoint_dir) if commit is None else None  # a hub model is named by its commit
    return LoadedModel(name, source, checkpoint_dir, model, tokenizer, revision=commit, content_sha256=digest)


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
