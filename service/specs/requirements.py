"""What an audit needs from its corpus, judged from the parts the bundle has (no text is read): the metrics
it must skip and the unlearning recipes that cannot run. The API applies them at submission, the in-process
runner before it starts, and reports list the skipped metrics with the reason."""

from collections.abc import Collection

from service.specs.audit import AuditSpec
from service.specs.metrics import skip_reason

Problem = tuple[tuple[str | int, ...], str]  # (location in the spec, reason)


class MissingInputsError(ValueError):
    """A spec that needs bundle parts its corpus lacks; each problem names the spec's field and the reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, location))}: {reason}" for location, reason in problems))


def skipped_metrics(spec: AuditSpec, present_parts: Collection[str]) -> dict[str, str]:
    """Requested metrics that cannot be measured on this bundle or spec, with the reason."""
    skipped = {}
    for metric in spec.evaluation_metrics:
        reason = skip_reason(metric, present_parts)
        if reason:
            skipped[metric] = reason
    if "collision" in spec.metrics and all(p.method == "full" for p in spec.precisions):
        skipped["collision"] = "no quantized precision requested: collision compares quantized codes"
    return skipped


def check_unlearning_inputs(spec: AuditSpec, present_parts: Collection[str]) -> None:
    """Unlearning needs forget text, and a retain term needs retain text: refused before any work is queued."""
    problems: list[Problem] = []
    for index, config in enumerate(spec.unlearning):
        needs_retain = config.method == "rmu" or getattr(config, "retain_loss", None) is not None
        needed = ["raw/forget", *(["raw/retain"] if needs_retain else [])]
        missing = [part for part in needed if part not in present_parts]
        if missing:
            reason = f"{config.name} ({config.method}) needs {' and '.join(missing)} text; the corpus has none"
            problems.append((("unlearning", index), reason))
    if problems:
        raise MissingInputsError(problems)
