"""Where models may come from: hub ids of allowed organisations, or folders under allowed local roots."""

import os
from pathlib import Path

from service.config import Settings
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
