"""Where models may come from: hub ids of allowed organisations, or folders under allowed local roots."""

import json
import os
from pathlib import Path

from service.config import Settings
from service.specs.architectures import architecture_refusal
from service.specs.audit import AuditSpec
from service.specs.naming import HUB_ID


def source_problem(source: str, settings: Settings) -> str | None:
    """Why a model source is refused, or None when it is allowed."""
    if source.startswith(("/", "~")) or source.startswith("."):
        path = Path(os.path.normpath(os.path.expanduser(source)))
        if not path.is_absolute():
            return "a local model must be given as an absolute path"
        roots = [Path(os.path.normpath(root)) for root in settings.model_roots]
        if any(path == root or root in path.parents for root in roots):
            return None
        return f"the folder is outside the allowed model roots {[str(r) for r in roots]}"
    if not HUB_ID.match(source):
        return "neither an absolute path nor a hub id of the form org/name"
    organisation = source.split("/", 1)[0]
    if organisation in settings.allowed_hub_orgs:
        return None
    allowed = settings.allowed_hub_orgs or "none are configured (UNLEARN_AUDIT_ALLOWED_HUB_ORGS)"
    return f"hub organisation '{organisation}' is not allowed; allowed: {allowed}"


def source_problems(spec: AuditSpec, settings: Settings) -> list[tuple[tuple[str | int, ...], str]]:
    """Every refused model source of a spec, with its field path."""
    sources: list[tuple[tuple[str | int, ...], str]] = [(("target", "model"), spec.target.model)]
    sources += [(("unlearned", index, "model"), entry.model) for index, entry in enumerate(spec.unlearned)]
    if spec.reference is not None and spec.reference.model is not None:
        sources.append((("reference", "model"), spec.reference.model))
    problems = []
    for location, source in sources:
        problem = source_problem(source, settings)
        if problem:
            problems.append((location, f"model source '{source}': {problem}"))
    return problems


def local_model_type(source: str) -> str | None:
    """The `model_type` of a local model folder's config.json; None for hub ids and unreadable configs.

    An unreadable config is not refused here: the worker names that problem when it loads the model.
    """
    if not source.startswith("/"):
        return None
    try:
        model_type = json.loads((Path(source) / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return model_type if isinstance(model_type, str) else None


def architecture_problems(spec: AuditSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """Precisions whose quantizer cannot take the architecture of a local model of the spec.

    Hub models are checked by the worker, which refuses the variant with the same reason.
    """
    sources = [("target", spec.target.model)] + [(entry.name, entry.model) for entry in spec.unlearned]
    problems = []
    for name, source in sources:
        model_type = local_model_type(source)
        if model_type is None:
            continue
        for index, precision in enumerate(spec.precisions):
            refusal = architecture_refusal(precision.method, model_type)
            if refusal:
                problems.append((("precisions", index, "method"), f"model '{name}' ({source}): {refusal}"))
    return problems
