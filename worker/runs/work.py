"""What each kind of run computes with the engine, returning the rows to store for it."""

from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from service.artifacts import audit_checkpoint_dir
from service.audits import repository
from service.audits.report import load_variants, stored_spec
from service.audits.sources import require_allowed, tenant_model_roots
from service.config import Settings
from service.db import session_scope
from service.models import Audit, Collision, Corpus, ItemScore, Result, Run, Tenant, UnlearningRecordRow
from service.queue import enqueue_after_commit, run_message
from service.specs.audit import AuditSpec
from service.specs.corpus import CorpusBundle, parse_bundle
from service.specs.naming import TARGET_NAME
from service.specs.precision import PrecisionConfig
from service.specs.report import ModelProvenance, Provenance
from service.specs.text import storable
from worker.engine.models import resolve_checkpoint
from worker.engine.pipeline import (
    collision_for,
    evaluate_variant,
    library_versions,
    model_provenance,
    skipped_metrics,
    unlearn_model,
)
from worker.engine.progress import Progress
from worker.engine.summary import summarize
from worker.runs.lifecycle import Claim, OutputWriter
from worker.runs.model_cache import MODEL_CACHE

PRECISION = TypeAdapter(PrecisionConfig)


def audit_inputs(session: Session, audit_id: str) -> tuple[Audit, AuditSpec, CorpusBundle]:
    audit = repository.audit_by_id(session, audit_id)
    if audit is None:
        raise LookupError(f"audit '{audit_id}' no longer exists")
    corpus = session.get(Corpus, audit.corpus_id)
    return audit, stored_spec(audit), parse_bundle(corpus.document, source=f"corpus {audit.corpus_id}")


def allowed_model_source(
    session: Session, settings: Settings, audit: Audit, spec: AuditSpec, model: str
) -> tuple[str, str | None]:
    """`model_source`, checked again right before it is loaded: the tenant's model roots, as resolved now (a
    symlink may have changed since submission), and the audit's own checkpoints."""
    source, revision = model_source(session, audit, spec, model)
    tenant = session.get(Tenant, audit.tenant_id)
    roots = [*tenant_model_roots(settings, tenant.name if tenant else ""), audit_checkpoint_dir(settings, audit.id)]
    require_allowed(source, settings, roots)
    return source, revision


def model_source(session: Session, audit: Audit, spec: AuditSpec, model: str) -> tuple[str, str | None]:
    """Where a model of the audit is read from: the spec, or the checkpoint an unlearning run saved."""
    if model == TARGET_NAME:
        return spec.target.model, spec.target.revision
    for entry in spec.unlearned:
        if entry.name == model:
            return entry.model, entry.revision
    for record in repository.unlearning_records_of(session, audit.id):
        if record.model == model:
            return record.checkpoint, None
    raise LookupError(f"model '{model}': no source in the spec and no unlearning result yet")


def evaluate(settings: Settings, claim: Claim, progress: Progress) -> OutputWriter:
    with session_scope(settings.sqlalchemy_url) as session:
        audit, spec, corpus = audit_inputs(session, claim.audit_id)
        source, revision = allowed_model_source(session, settings, audit, spec, claim.model)
    loaded = MODEL_CACHE.get(claim.model, source, revision, settings.max_model_bytes)
    outcome = evaluate_variant(loaded, PRECISION.validate_python(claim.precision), spec, corpus, progress)
    provenance = {**model_provenance(loaded).model_dump(mode="json"), "device": str(loaded.device)}

    def write(session: Session, run: Run, audit: Audit) -> None:
        session.add(
            Result(
                run_id=run.id,
                audit_id=audit.id,
                variant=outcome.variant.model_dump(mode="json"),
                model_provenance=provenance,
            )
        )
        session.add_all(
            ItemScore(
                run_id=run.id,
                audit_id=audit.id,
                model=item.model,
                precision_label=item.precision_label,
                metric=item.metric,
                item_index=item.index,
                score=item.score,
                output=None if item.output is None else storable(item.output),  # generated: may hold a NUL
                truth=item.truth,
                prompt=item.prompt,
                truncated=item.truncated,
            )
            for item in outcome.items
        )

    return write


def collision(settings: Settings, claim: Claim, progress: Progress) -> OutputWriter:
    """Reads both checkpoints tensor by tensor (no model-size limit applies: no model is loaded whole)."""
    with session_scope(settings.sqlalchemy_url) as session:
        audit, spec, _corpus = audit_inputs(session, claim.audit_id)
        target_source = allowed_model_source(session, settings, audit, spec, TARGET_NAME)
        unlearned_source = allowed_model_source(session, settings, audit, spec, claim.model)
    target_dir, _ = resolve_checkpoint(*target_source)
    unlearned_dir, _ = resolve_checkpoint(*unlearned_source)
    progress("collision", 0, 1)
    result = collision_for(target_dir, unlearned_dir, claim.model, PRECISION.validate_python(claim.precision))

    def write(session: Session, run: Run, audit: Audit) -> None:
        session.add(
            Collision(
                run_id=run.id,
                audit_id=audit.id,
                model=run.model,
                precision_label=run.precision_label,
                result=result.model_dump(mode="json"),
            )
        )

    return write


def unlearn(settings: Settings, claim: Claim, progress: Progress) -> OutputWriter:
    """Make the unlearned model, then release the runs that were waiting for it."""
    with session_scope(settings.sqlalchemy_url) as session:
        audit, spec, corpus = audit_inputs(session, claim.audit_id)
        source, revision = allowed_model_source(session, settings, audit, spec, TARGET_NAME)
    config = next(c for c in spec.unlearning if c.name == claim.model)
    target = MODEL_CACHE.get(TARGET_NAME, source, revision, settings.max_model_bytes)
    seed = config.seed if config.seed is not None else spec.seed
    checkpoint_root = audit_checkpoint_dir(settings, audit.id)
    folder, record = unlearn_model(config, target, corpus, seed, checkpoint_root, progress)
    MODEL_CACHE.clear()  # training may have touched the cached target's weights

    def write(session: Session, run: Run, audit: Audit) -> None:
        session.add(
            UnlearningRecordRow(
                run_id=run.id,
                audit_id=audit.id,
                model=run.model,
                checkpoint=str(folder),
                record=record.model_dump(mode="json"),
            )
        )
        for waiting in repository.runs_of(session, [audit.id]):
            if waiting.model == run.model and waiting.status == "waiting":
                waiting.status = "queued"
                enqueue_after_commit(session, str(settings.broker_url), run_message(waiting.id, waiting.kind))

    return write


def summarize_audit(session: Session, audit: Audit) -> None:
    """Write the summary, verdicts and provenance, and close the audit (failed if any run failed)."""
    spec = stored_spec(audit)
    corpus = parse_bundle(session.get(Corpus, audit.corpus_id).document)
    variants = load_variants(session, audit)
    summary = summarize(spec, variants, skipped_metrics(spec, corpus))
    runs = repository.runs_of(session, [audit.id])
    failed = [f"{r.kind} {r.model} @ {r.precision_label}: {r.error}" for r in runs if r.status == "failed"]
    audit.summary = summary.model_dump(mode="json")
    audit.provenance = provenance(session, audit, spec, corpus, runs).model_dump(mode="json")
    audit.status = "failed" if failed else "succeeded"
    audit.error = "; ".join(failed)[:4000] or None
    audit.finished_at = datetime.now(UTC)


def provenance(session: Session, audit: Audit, spec: AuditSpec, corpus: CorpusBundle, runs: list[Run]) -> Provenance:
    models: dict[str, ModelProvenance] = {}
    device = None
    for row in repository.results_of(session, audit.id):
        if row.model_provenance:
            device = row.model_provenance.get("device", device)
            models[row.variant["model"]] = ModelProvenance.model_validate(row.model_provenance)
    timings: dict[str, float] = {}
    for run in runs:
        if run.started_at and run.finished_at:
            stage = f"{run.kind} {run.model}"
            timings[stage] = timings.get(stage, 0.0) + (run.finished_at - run.started_at).total_seconds()
    return Provenance(
        models=models,
        corpus_sha256=corpus.sha256,
        corpus_parts=corpus.summary(),
        seed=spec.seed,
        library_versions=library_versions(),
        device=device,
        timings=timings,
        started_at=audit.started_at.isoformat() if audit.started_at else None,
        finished_at=datetime.now(UTC).isoformat(),
    )
