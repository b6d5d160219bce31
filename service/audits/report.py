"""An audit's stored rows loaded back into the shared report shape (service.specs.report.Report), assembled
as the in-process runner assembles it (service.specs.assembly).

The API serves results and renders reports from it; the worker's final task summarises it.
"""

from sqlalchemy.orm import Session

from service.audits import repository
from service.audits.progress import run_counts
from service.models import Audit, Run
from service.models.states import AuditStatus, RunKind, RunStatus
from service.runs import repository as run_repository
from service.specs.assembly import assemble_report
from service.specs.audit import AuditSpec
from service.specs.report import (
    AuditHeader,
    CollisionResult,
    Provenance,
    Report,
    Summary,
    UnlearningRecord,
    VariantResult,
)


def load_report(session: Session, audit: Audit, with_items: bool = True) -> Report:
    """The report as stored so far, headed by the audit's status (summary and verdict only once it succeeded);
    an evaluation run that failed is a variant with its `error`."""
    runs = run_repository.runs_of(session, [audit.id])
    stored = [VariantResult.model_validate(row.variant) for row in repository.results_of(session, audit.id)]
    report = assemble_report(
        stored_spec(audit),
        audit.spec,
        variants=stored + failed_variants(runs),
        collisions={
            (row.model, row.precision_label): CollisionResult.model_validate(row.result)
            for row in repository.collisions_of(session, audit.id)
        },
        items=[row.to_record() for row in repository.items_of(session, audit.id)] if with_items else [],
        unlearning=[
            UnlearningRecord.model_validate(row.record) for row in repository.unlearning_records_of(session, audit.id)
        ],
        summary=Summary.model_validate(stated_summary(audit) or {}),
        provenance=Provenance.model_validate(audit.provenance) if audit.provenance else Provenance(),
    )
    report.audit = audit_header(audit, runs)
    return report


def failed_variants(runs: list[Run]) -> list[VariantResult]:
    """The variants whose evaluation run failed, with the run's public reason (worker.runs.errors)."""
    return [
        VariantResult.failed(run.model, dict(run.precision), run.precision_label, run.error or "no reason given")
        for run in runs
        if run.kind == RunKind.EVALUATE and run.status == RunStatus.FAILED
    ]


def stated_summary(audit: Audit) -> dict | None:
    """The summary and its verdict, stated only for an audit that succeeded: a running, failed or cancelled
    audit's report is INCOMPLETE and states none (docs/reports.md)."""
    return audit.summary if audit.status == AuditStatus.SUCCEEDED else None


def audit_header(audit: Audit, runs: list[Run]) -> AuditHeader:
    return AuditHeader(
        id=audit.id,
        name=audit.name,
        status=audit.status,
        submitted_at=audit.created_at,
        started_at=audit.started_at,
        finished_at=audit.finished_at,
        runs=run_counts(runs),
    )


def stored_spec(audit: Audit) -> AuditSpec:
    """The audit's spec as validated at submission (its `corpus` is the corpus id)."""
    return AuditSpec.model_validate(audit.spec)
