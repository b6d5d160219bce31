"""Report assembly, one way for both runners: the in-process runner (CLI) and the service (its summary task
and its report route) put the same parts together in the same order.

Variants, items and unlearning records follow the spec's order (models, precisions, metrics); provenance
records the corpus, the seed and the library versions; a recipe without a seed runs with the audit's.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from service.specs.audit import AUDIT_RECORD_FIELDS, AuditSpec
from service.specs.naming import TARGET_NAME
from service.specs.report import (
    CollisionResult,
    ItemRecord,
    ModelProvenance,
    Provenance,
    ReferenceAUCChoice,
    Report,
    Summary,
    UnlearningRecord,
    VariantResult,
)
from service.specs.unlearning import UnlearningConfig

LIBRARIES = ("torch", "transformers", "bitsandbytes", "llmcompressor", "compressed-tensors", "rouge-score")


def library_versions() -> dict[str, str]:
    """Installed versions of this package and the engine's libraries (those installed here)."""
    versions = {}
    for name in ("unlearn-audit", *LIBRARIES):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def unlearning_seed(spec: AuditSpec, config: UnlearningConfig) -> int:
    """The seed a recipe trains with: its own, else the audit's."""
    return config.seed if config.seed is not None else spec.seed


def report_spec(spec: AuditSpec, corpus_sha256: str) -> dict[str, Any]:
    """The spec as given (without the audit's name and labels), with an inline corpus replaced by its content
    address (the text is private data)."""
    document = spec.model_dump(mode="json", exclude=set(AUDIT_RECORD_FIELDS))
    if isinstance(spec.corpus, dict):
        document["corpus"] = f"sha256:{corpus_sha256}"
    return document


def audit_provenance(
    spec: AuditSpec,
    corpus_sha256: str,
    corpus_parts: dict[str, int],
    models: Iterable[ModelProvenance],
    timings: dict[str, float],
    started_at: str | None,
    reference_auc: ReferenceAUCChoice | None = None,
) -> Provenance:
    """What makes the report reproducible, finished now: models, corpus, the reference AUC that PrivLeak was
    normalised by (when PrivLeak was asked for), seed, library versions, device."""
    ordered = sorted(models, key=lambda model: _position(spec.model_names, model.name))
    return Provenance(
        models={model.name: model for model in ordered},
        corpus_sha256=corpus_sha256,
        corpus_parts=corpus_parts,
        reference_auc=reference_auc if "privleak" in spec.metrics else None,
        evaluation=spec.evaluation.resolved(spec.seed),
        seed=spec.seed,
        library_versions=library_versions(),
        device=next((model.device for model in ordered if model.device), None),
        timings=timings,
        started_at=started_at,
        finished_at=datetime.now(UTC).isoformat(),
    )


def assemble_report(
    spec: AuditSpec,
    spec_document: dict[str, Any],
    variants: list[VariantResult],
    collisions: Mapping[tuple[str, str], CollisionResult],
    items: list[ItemRecord],
    unlearning: list[UnlearningRecord],
    summary: Summary,
    provenance: Provenance,
) -> Report:
    """The report: variants in spec order with their collisions attached, items and recipes in spec order."""
    for variant in variants:
        variant.collision = collisions.get((variant.model, variant.precision_label))
        variant.state_digest = variant.state_digest or _digest(variant, collisions)
    metrics = list(spec.metrics)
    recipes = [config.name for config in spec.unlearning]
    return Report(
        spec=spec_document,
        variants=sorted(variants, key=lambda variant: _variant_position(spec, variant)),
        items=sorted(
            items, key=lambda item: (*_variant_position(spec, item), _position(metrics, item.metric), item.index)
        ),
        summary=summary,
        unlearning=sorted(unlearning, key=lambda record: _position(recipes, record.name)),
        provenance=provenance,
    )


def _digest(variant: VariantResult, collisions: Mapping[tuple[str, str], CollisionResult]) -> str | None:
    """A variant's quantized state digest as a collision run found it (the target's: any collision at its precision)."""
    if variant.collision is not None:
        return variant.collision.digest
    if variant.model != TARGET_NAME:
        return None
    at_precision = (c for (_, label), c in collisions.items() if label == variant.precision_label)
    return next((c.target_digest for c in at_precision if c.target_digest), None)


def _variant_position(spec: AuditSpec, entry: VariantResult | ItemRecord) -> tuple[int, int]:
    return _position(spec.model_names, entry.model), _position(spec.precision_labels, entry.precision_label)


def _position(order: Sequence[str], name: str) -> int:
    return order.index(name) if name in order else len(order)
