"""Audit rules: validate completely before storing, plan the runs, enqueue after commit, read results back."""

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import quotas
from service.audits import repository
from service.audits.limits import limit_problems
from service.audits.progress import run_counts, share_done
from service.audits.report import load_report, stated_summary, stored_spec
from service.audits.schemas import (
    AuditAccepted,
    AuditListItem,
    AuditOut,
    AuditProgress,
    AuditResults,
    CollisionOut,
    ItemOut,
    MatrixCell,
    MetricMeaning,
    RunOut,
)
from service.audits.sources import architecture_problems, source_problems, tenant_model_roots
from service.config import Settings
from service.corpora import repository as corpora_repository
from service.corpora import service as corpora_service
from service.errors import ConflictError, FieldError, NotFoundError
from service.listing.query import Cursor, ListQuery
from service.models import Audit, Corpus, Run, Tenant
from service.models.base import utc_now
from service.models.states import AuditStatus, RunKind, RunStatus
from service.pagination import Page, PageParams
from service.queue import enqueue_after_commit, run_message
from service.runs import repository as run_repository
from service.runs.dependencies import prerequisites
from service.specs.audit import AUDIT_RECORD_FIELDS, AuditSpec
from service.specs.corpus import part_counts
from service.specs.metrics import METRICS
from service.specs.precision import FullPrecision, PrecisionConfig
from service.specs.requirements import MissingInputsError, check_unlearning_inputs
from service.webhooks import service as webhooks


def submit(
    session: Session, settings: Settings, tenant: Tenant, spec: AuditSpec, idempotency_key: str | None
) -> tuple[Audit, bool]:
    """The audit for this request (stored and queued when new) and whether it was created now."""
    check_submission(spec, settings, tenant)
    corpus = resolve_corpus(session, settings, tenant, spec)
    # the spec proper: what to audit; its name and labels are the audit's own columns (lists filter on them)
    stored = {**spec.model_dump(mode="json", exclude=set(AUDIT_RECORD_FIELDS)), "corpus": corpus.id}
    audit = Audit(
        tenant_id=tenant.id,
        corpus_id=corpus.id,
        idempotency_key=idempotency_key,
        spec=stored,
        name=spec.name,
        labels=dict(spec.labels),
    )
    if idempotency_key:
        existing = repository.by_idempotency_key(session, tenant.id, idempotency_key)
        if existing is not None:
            return same_request(existing, audit), False
    runs = plan_runs(spec)
    quotas.check_unfinished_runs(session, tenant.id, len(runs), settings.max_unfinished_runs_per_tenant)
    try:
        with session.begin_nested():
            repository.add(session, audit, runs)
    except IntegrityError:  # the same Idempotency-Key in a concurrent request: answer with its audit
        existing = repository.by_idempotency_key(session, tenant.id, idempotency_key or "")
        if existing is None:
            raise
        return same_request(existing, audit), False
    for run in runs:
        if run.status == RunStatus.QUEUED:
            enqueue_after_commit(session, str(settings.broker_url), run_message(run.id, run.kind))
    return audit, True


def check_submission(spec: AuditSpec, settings: Settings, tenant: Tenant) -> None:
    over_limits = limit_problems(spec, settings, planned_runs=len(plan_runs(spec)))
    if over_limits:  # refused before any folder is looked at
        raise FieldError(over_limits)
    roots = tenant_model_roots(settings, tenant.name)
    problems = source_problems(spec, settings, roots)
    if not problems:  # only folders under the tenant's roots are read
        problems = architecture_problems(spec, roots)
    if spec.reference is not None and spec.reference.model is not None and spec.reference.auc is None:
        problems.append(
            (("reference", "auc"), "the service needs the reference model's PrivLeak AUC; measure it with the CLI")
        )
    if problems:
        raise FieldError(problems)


def resolve_corpus(session: Session, settings: Settings, tenant: Tenant, spec: AuditSpec) -> Corpus:
    """The stored corpus a spec names by id, or the inline bundle stored (once) now; refused (before it is
    stored) when the spec's unlearning recipes need text the corpus lacks."""
    if isinstance(spec.corpus, str):
        corpus = corpora_repository.by_id(session, tenant.id, spec.corpus)
        if corpus is None:
            raise FieldError([(("corpus",), f"no corpus with id '{spec.corpus}'; upload it with POST /v1/corpora")])
        check_corpus_inputs(spec, corpus.parts)
        return corpus
    document = corpora_service.validate_bundle(spec.corpus, ("corpus",), settings.max_corpus_items)
    check_corpus_inputs(spec, part_counts(document))
    corpus, _created = corpora_service.store_bundle(
        session, tenant.id, document, None, {}, settings.max_corpus_bytes_per_tenant
    )
    return corpus


def check_corpus_inputs(spec: AuditSpec, present_parts: Collection[str]) -> None:
    try:
        check_unlearning_inputs(spec, present_parts)
    except MissingInputsError as error:
        raise FieldError(error.problems) from None


def same_request(existing: Audit, requested: Audit) -> Audit:
    asked = (requested.spec, requested.name, requested.labels)
    if (existing.spec, existing.name, existing.labels) != asked:
        raise ConflictError(
            "idempotency-key-reused", "Idempotency-Key: this key was already used for a different audit spec"
        )
    return existing


def plan_runs(spec: AuditSpec) -> list[Run]:
    """One run per unlearning recipe, per variant, and per (unlearned model, quantized precision) collision.

    A run with prerequisites (service.runs.dependencies) waits for them.
    """
    full = FullPrecision()
    runs = [_run(RunKind.UNLEARN, config.name, full) for config in spec.unlearning]
    runs += [_run(RunKind.EVALUATE, model, precision) for model in spec.model_names for precision in spec.precisions]
    if "collision" in spec.metrics:
        quantized = [p for p in spec.precisions if p.method != "full"]
        runs += [_run(RunKind.COLLISION, model, p) for model in spec.model_names[1:] for p in quantized]
    for run in runs:
        run.status = RunStatus.WAITING if prerequisites(run, runs) else RunStatus.QUEUED
    return runs


def _run(kind: RunKind, model: str, precision: PrecisionConfig) -> Run:
    return Run(kind=kind, model=model, precision_label=precision.label, precision=precision.model_dump(mode="json"))


def get(session: Session, tenant: Tenant, audit_id: str) -> Audit:
    audit = repository.by_id(session, tenant.id, audit_id)
    if audit is None:
        raise NotFoundError("audit", audit_id)
    return audit


def accepted(audit: Audit) -> AuditAccepted:
    return AuditAccepted(id=audit.id, status=audit.status, created_at=audit.created_at)


def detail(session: Session, audit: Audit, run_page: PageParams | None = None) -> AuditOut:
    """The audit with its runs counted; one page of the runs themselves only when asked for."""
    runs = run_repository.runs_of(session, [audit.id])
    shown = None if run_page is None else runs[run_page.offset : run_page.offset + run_page.limit]
    return AuditOut(
        **list_item(audit, runs).model_dump(),
        started_at=audit.started_at,
        duration_s=_seconds(audit.started_at, audit.finished_at),
        error=audit.error,
        spec=audit.spec,
        progress=progress_of(runs),
        runs=None if shown is None else [run_out(run) for run in shown],
    )


def page(
    session: Session, tenant: Tenant, audit_filter: repository.AuditFilter, query: ListQuery
) -> tuple[Page[AuditListItem], Cursor | None]:
    """A page of the tenant's audits and the cursor of the next page."""
    audits, total, following = repository.page(session, tenant.id, audit_filter, query)
    runs = run_repository.runs_of(session, [audit.id for audit in audits])
    items = [list_item(audit, [run for run in runs if run.audit_id == audit.id]) for audit in audits]
    return Page[AuditListItem](items=items, total=total, limit=query.limit, offset=query.offset), following


def list_item(audit: Audit, runs: list[Run]) -> AuditListItem:
    spec = stored_spec(audit)
    return AuditListItem(
        id=audit.id,
        name=audit.name,
        labels=audit.labels,
        status=audit.status,
        corpus_id=audit.corpus_id,
        created_at=audit.created_at,
        finished_at=audit.finished_at,
        models=spec.model_names,
        precisions=spec.precision_labels,
        verdict=(stated_summary(audit) or {}).get("verdict"),
        share_done=share_done(runs),
        updated_at=max([audit.updated_at, *(run.updated_at for run in runs)]),
    )


def progress_of(runs: list[Run]) -> AuditProgress:
    kinds = dict.fromkeys(run.kind for run in runs)
    by_kind = {kind: run_counts([run for run in runs if run.kind == kind]) for kind in kinds}
    counts = run_counts(runs)
    return AuditProgress(
        share_done=share_done(runs),
        runs_done=counts.done,
        runs_failed=counts.failed,
        runs_cancelled=counts.cancelled,
        runs_total=counts.total,
        by_kind=by_kind,
    )


def run_out(run: Run) -> RunOut:
    columns = {name: getattr(run, name) for name in RunOut.model_fields if name != "duration_s"}
    return RunOut.model_validate({**columns, "duration_s": _seconds(run.started_at, run.finished_at)})


def _seconds(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return (finished - started).total_seconds()


def results(session: Session, audit: Audit) -> AuditResults:
    """The matrix, retained share and recovery, collisions, the audit's status, and its summary and verdict once
    it succeeded (null before, and for a failed or cancelled audit)."""
    spec = stored_spec(audit)
    report = load_report(session, audit, with_items=False)
    return AuditResults(
        audit_id=audit.id,
        status=audit.status,
        models=spec.model_names,
        precisions=spec.precision_labels,
        metrics=list(spec.metrics),
        metric_info={name: MetricMeaning(**_meaning(name)) for name in spec.metrics},
        matrix=[MatrixCell(**v.model_dump(include=set(MatrixCell.model_fields))) for v in report.variants],
        retained=report.summary.retained,
        recovery=report.summary.recovery,
        collisions=[
            CollisionOut(model=v.model, precision_label=v.precision_label, **v.collision.model_dump())
            for v in report.variants
            if v.collision is not None
        ],
        summary=report.summary if stated_summary(audit) else None,
        verdict=report.summary.verdict,
        unlearning=report.unlearning,
    )


def _meaning(metric: str) -> dict[str, str]:
    info = METRICS[metric]
    return {"title": info.title, "unit": info.unit, "direction": info.direction, "definition": info.definition}


def items(session: Session, audit: Audit, item_filter: repository.ItemFilter, params: PageParams) -> Page[ItemOut]:
    """A page of items; `rose` is judged with the audit's own policy (its `item_rise`)."""
    item_filter = replace(item_filter, item_rise=stored_spec(audit).policy.item_rise)
    rows, total = repository.item_page(session, audit.id, item_filter, params.limit, params.offset)
    return Page[ItemOut](
        items=[ItemOut.compared(row.to_record(), full_score) for row, full_score in rows],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


def cancel(session: Session, audit: Audit) -> Audit:
    """Queued runs stop at once; running ones stop at their next progress report. Stored results stay."""
    if audit.status in (AuditStatus.SUCCEEDED, AuditStatus.FAILED):
        raise ConflictError("audit-finished", f"audit '{audit.id}' has already finished ({audit.status})")
    if audit.status != AuditStatus.CANCELLED:
        audit.status = AuditStatus.CANCELLED
        audit.finished_at = utc_now()
        run_repository.cancel_pending(session, audit.id)
        webhooks.emit(session, audit)
    return audit


def delete(session: Session, audit: Audit) -> None:
    repository.delete_audit(session, audit)
