"""An audit's stored rows loaded back into the shared report shape (service.specs.report.Report).

The API serves results and renders reports from it; the worker's final task summarises it.
"""

from sqlalchemy.orm import Session

from service.audits import repository
from service.models import Audit
from service.specs.audit import AuditSpec
from service.specs.report import (
    CollisionResult,
    ItemRecord,
    Provenance,
    Report,
    Summary,
    UnlearningRecord,
    VariantResult,
)


def load_variants(session: Session, audit: Audit) -> list[VariantResult]:
    """Evaluated variants in spec order (models, then precisions), each with its collision attached."""
    variants = [VariantResult.model_validate(row.variant) for row in repository.results_of(session, audit.id)]
    collisions = {
        (row.model, row.precision_label): CollisionResult.model_validate(row.result)
        for row in repository.collisions_of(session, audit.id)
    }
    for variant in variants:
        variant.collision = collisions.get((variant.model, variant.precision_label))
    spec = stored_spec(audit)
    models, labels = spec.model_names, spec.precision_labels
    variants.sort(key=lambda v: (_position(models, v.model), _position(labels, v.precision_label)))
    return variants


def load_report(session: Session, audit: Audit, with_items: bool = True) -> Report:
    items = (
        [
            ItemRecord(
                model=row.model,
                precision_label=row.precision_label,
                metric=row.metric,
                index=row.item_index,
                score=row.score,
                output=row.output,
                truth=row.truth,
                prompt=row.prompt,
                truncated=row.truncated,
            )
            for row in repository.items_of(session, audit.id)
        ]
        if with_items
        else []
    )
    return Report(
        spec=audit.spec,
        variants=load_variants(session, audit),
        items=items,
        summary=Summary.model_validate(audit.summary) if audit.summary else Summary(),
        unlearning=load_unlearning_records(session, audit),
        provenance=Provenance.model_validate(audit.provenance) if audit.provenance else Provenance(),
    )


def load_unlearning_records(session: Session, audit: Audit) -> list[UnlearningRecord]:
    return [UnlearningRecord.model_validate(row.record) for row in repository.unlearning_records_of(session, audit.id)]


def stored_spec(audit: Audit) -> AuditSpec:
    """The audit's spec as validated at submission (its `corpus` is the corpus id)."""
    return AuditSpec.model_validate(audit.spec)


def _position(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)
