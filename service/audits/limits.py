"""Per-audit limits (settings): what one submission may ask the workers to do, checked before anything is
stored. Each problem names the field of the spec and the setting that sets the limit."""

from service.config import Settings
from service.specs.audit import AuditSpec

Problem = tuple[tuple[str | int, ...], str]


def limit_problems(spec: AuditSpec, settings: Settings, planned_runs: int) -> list[Problem]:
    """Every limit the spec exceeds, as (location, reason)."""
    problems = [*_size_problems(spec, settings), *_recipe_problems(spec, settings)]
    if planned_runs > settings.max_runs_per_audit:
        problems.append(
            (
                ("precisions",),
                f"the spec plans {planned_runs} runs (models x precisions, plus collision runs), above the limit "
                f"of {settings.max_runs_per_audit} per audit (UNLEARN_AUDIT_MAX_RUNS_PER_AUDIT)",
            )
        )
    return problems


def _size_problems(spec: AuditSpec, settings: Settings) -> list[Problem]:
    problems: list[Problem] = []
    models = len(spec.model_names)
    if models > settings.max_models_per_audit:
        field = "unlearned" if len(spec.unlearned) >= len(spec.unlearning) else "unlearning"
        problems.append(
            (
                (field,),
                f"{models} models (the target, unlearned and unlearning together), above the limit of "
                f"{settings.max_models_per_audit} per audit (UNLEARN_AUDIT_MAX_MODELS_PER_AUDIT)",
            )
        )
    if len(spec.precisions) > settings.max_precisions_per_audit:
        problems.append(
            (
                ("precisions",),
                f"{len(spec.precisions)} precisions, above the limit of {settings.max_precisions_per_audit} per "
                "audit (UNLEARN_AUDIT_MAX_PRECISIONS_PER_AUDIT)",
            )
        )
    return problems


def _recipe_problems(spec: AuditSpec, settings: Settings) -> list[Problem]:
    problems: list[Problem] = []
    for index, recipe in enumerate(spec.unlearning):
        accumulation = recipe.gradient_accumulation
        batches = (recipe.max_steps or 0) * accumulation  # every step runs `accumulation` batches
        if batches > settings.max_unlearning_steps:
            per_step = "" if accumulation == 1 else f" steps x {accumulation} accumulated batches = {batches} batches"
            reason = f"{recipe.max_steps}{per_step} is above the limit of {settings.max_unlearning_steps}"
            problems.append((("unlearning", index, "max_steps"), f"{reason} (UNLEARN_AUDIT_MAX_UNLEARNING_STEPS)"))
        if recipe.max_steps is None and recipe.epochs > settings.max_unlearning_epochs:
            reason = f"{recipe.epochs} is above the limit of {settings.max_unlearning_epochs}"
            problems.append((("unlearning", index, "epochs"), f"{reason} (UNLEARN_AUDIT_MAX_UNLEARNING_EPOCHS)"))
    return problems
