"""Where models may come from: hub ids of allowed organisations, or model folders under the tenant's roots.

Tenant T reads local models under ROOT/T/ for each configured model root (and anywhere under the roots only
when `shared_model_roots` is on). A local path is resolved, symlinks followed, before it is compared with
the roots, at submission and again in the worker right before the model is loaded; a symlink inside the
folder that leads out of the roots is refused too. A path that is refused and one that does not exist get
the same answer, so that an answer never tells what exists where the tenant may not read.
"""

import json
import os
from pathlib import Path

from service.config import Settings
from service.specs.architectures import architecture_refusal
from service.specs.audit import AuditSpec
from service.specs.naming import is_hub_id, is_plain_name

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")


class ModelSourceError(ValueError):
    """A model source the tenant may not use; the message names the source and the reason."""


def tenant_model_roots(settings: Settings, tenant_name: str) -> list[Path]:
    """ROOT/TENANT for every model root (none for a tenant name that is not one plain folder name), and the
    roots themselves when they are shared."""
    own = [Path(root) / tenant_name for root in settings.model_roots] if is_plain_name(tenant_name) else []
    return own + [Path(root) for root in settings.model_roots] if settings.shared_model_roots else own


def source_problem(source: str, settings: Settings, roots: list[Path]) -> str | None:
    """Why a model source is refused, or None when it is allowed."""
    if is_hub_id(source):
        organisation = source.split("/", 1)[0]
        if organisation in settings.allowed_hub_orgs:
            return None
        allowed = settings.allowed_hub_orgs or "none are configured (UNLEARN_AUDIT_ALLOWED_HUB_ORGS)"
        return f"hub organisation '{organisation}' is not allowed; allowed: {allowed}"
    if not Path(source).expanduser().is_absolute():
        return "neither an absolute path nor a hub id of the form org/name"
    if local_model_folder(source, roots) is None:
        return (
            f"no model folder at this path under your model roots {[str(root) for root in roots]} (a model folder "
            f"holds a config.json and weights: {', '.join(WEIGHT_PATTERNS)})"
        )
    return None


def local_model_folder(source: str, roots: list[Path]) -> Path | None:
    """The real path of the model folder (a config.json and weights) that `source` names, when it and every
    symlink inside it stay under one of the roots; None otherwise (refused, missing or not a model alike)."""
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    try:
        folder = Path(source).expanduser().resolve(strict=True)
        if not _under(folder, real_roots) or not _holds_a_model(folder):
            return None
        links = [entry for entry in folder.rglob("*") if entry.is_symlink()]
        if not all(_under(link.resolve(), real_roots) for link in links):
            return None
    except (OSError, RuntimeError):  # unreadable, or a symlink loop
        return None
    return folder


def _holds_a_model(folder: Path) -> bool:
    """A config.json and weights: safetensors or PyTorch files, or the index of a sharded checkpoint."""
    weights = (path for pattern in WEIGHT_PATTERNS for path in folder.glob(pattern))
    return (folder / "config.json").is_file() and any(path.is_file() for path in weights)


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def require_allowed(source: str, settings: Settings, roots: list[Path]) -> None:
    """The worker's check right before loading: raises ModelSourceError with the answer the API gave."""
    problem = source_problem(source, settings, roots)
    if problem:
        raise ModelSourceError(f"model source '{source}': {problem}")


def source_problems(spec: AuditSpec, settings: Settings, roots: list[Path]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every refused model source of a spec, with its field path."""
    sources: list[tuple[tuple[str | int, ...], str]] = [(("target", "model"), spec.target.model)]
    sources += [(("unlearned", index, "model"), entry.model) for index, entry in enumerate(spec.unlearned)]
    if spec.reference is not None and spec.reference.model is not None:
        sources.append((("reference", "model"), spec.reference.model))
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for location, source in sources:
        problem = source_problem(source, settings, roots)
        if problem:
            problems.append((location, f"model source '{source}': {problem}"))
    return problems


def local_model_type(source: str, roots: list[Path]) -> str | None:
    """The `model_type` in the config.json of the local model folder `source` names under `roots`; None for
    hub ids, refused folders and unreadable configs.

    An unreadable config is not refused here: the worker names that problem when it loads the model.
    """
    folder = None if is_hub_id(source) else local_model_folder(source, roots)
    if folder is None:
        return None
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return model_type if isinstance(model_type, str) else None


def architecture_problems(spec: AuditSpec, roots: list[Path]) -> list[tuple[tuple[str | int, ...], str]]:
    """Precisions whose quantizer cannot take the architecture of a local model of the spec (under `roots`).

    Hub models are checked by the worker, which refuses the variant with the same reason.
    """
    sources = [("target", spec.target.model)] + [(entry.name, entry.model) for entry in spec.unlearned]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name, source in sources:
        model_type = local_model_type(source, roots)
        if model_type is None:
            continue
        for index, precision in enumerate(spec.precisions):
            refusal = architecture_refusal(precision.method, model_type)
            if refusal:
                problems.append((("precisions", index, "method"), f"model '{name}' ({source}): {refusal}"))
    return problems
