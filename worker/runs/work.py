"""What each kind of run computes with the engine, returning the rows to store for it."""

from functools import lru_cache
from pathlib import Path

from pydantic import TypeAdapter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.artifacts import audit_checkpoint_dir
from service.audits import repository
from service.audits.report import load_report, stored_spec
from service.audits.sources import require_allowed, tenant_model_roots
from service.config import Settings
from service.corpora import repository as corpora_repository
from service.db import session_scope
from service.models import Audit, Collision, Corpus, ItemScore, Result, Run, Tenant, UnlearningRecordRow
from service.runs import repository as run_repository
from service.specs.assembly import audit_provenance, library_versions, unlearning_seed
from service.specs.audit import AuditSpec
from service.specs.cache_key import result_key
from service.specs.corpus import META_FOLDER, BundleMeta, CorpusBundle, parse_bundle
from service.specs.naming import TARGET_NAME
from service.specs.precision import PrecisionConfig
from service.specs.reference import choose_reference_auc
from service.specs.report import ModelProvenance, VariantResult
from service.specs.requirements import skipped_metrics
from worker.engine.collision import bucket_collision
from worker.engine.model_digest import FileDigests, model_digest
from worker.engine.models import evaluation_dtype, resolve_checkpoint
from worker.engine.progress import Progress
from worker.engine.summary import summarize
from worker.engine.variant import (
    VariantOutcome,
    evaluate_variant,
    identical_outcome,
    reused_outcome,
    unlearn_model,
)
from worker.runs.artifacts import local_copy, prefetch, publish
from worker.runs.lifecycle import Claim, OutputWriter, finish_audit
from worker.runs.model_cache import MODEL_CACHE

PRECISION = TypeAdapter(PrecisionConfig)


def audit_inputs(session: Session, audit_id: str) -> tuple[Audit, AuditSpec, CorpusBundle]:
    audit = repository.audit_by_id(session, audit_id)
    if audit is None:
        raise LookupError(f"audit '{audit_id}' no longer exists")
    corpus = session.get(Corpus, audit.corpus_id)
    if corpus is None:
        raise LookupError(f"corpus '{audit.corpus_id}' of audit '{audit_id}' no longer exists")
    return audit, stored_spec(audit), parse_bundle(corpus.document, source=f"corpus {audit.corpus_id}")


def allowed_model_source(
    session: Session, settings: Settings, audit: Audit, spec: AuditSpec, model: str
) -> tuple[str, str | None]:
    """`model_source`, checked again right before it is loaded: the tenant's model roots, as resolved now (a
    symlink may have changed since submission), and the audit's own checkpoints (downloaded from the artifact
    store first when they were made elsewhere)."""
    source, revision = model_source(session, audit, spec, model)
    if any(config.name == model for config in spec.unlearning):  # the audit's own: this machine's copy
        source = str(local_copy(settings, audit.id, model))
    require_allowed(source, settings, model_roots(session, settings, audit))
    return source, revision


def model_roots(session: Session, settings: Settings, audit: Audit) -> list[Path]:
    """Where the audit's models may be read from: the tenant's model roots and the audit's own checkpoints."""
    tenant = session.get(Tenant, audit.tenant_id)
    return [*tenant_model_roots(settings, tenant.name if tenant else ""), audit_checkpoint_dir(settings, audit.id)]


def visible_roots(settings: Settings, audit_id: str) -> list[Path]:
    """The folders whose paths a failed run's reason may show (none once the audit is gone, or when the database
    cannot say: the run failing may be the database's doing)."""
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            audit = repository.audit_by_id(session, audit_id)
            return model_roots(session, settings, audit) if audit is not None else []
    except SQLAlchemyError:
        return []


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
    """Evaluate a variant, or take the results of a model whose quantized state its collision run proved equal,
    or those of this tenant's earlier audit with the same result key (unless the spec says `"cache": false`)."""
    precision = PRECISION.validate_python(claim.precision)
    prefetch(settings, claim.audit_id, claim.model)
    with session_scope(settings.sqlalchemy_url) as session:
        audit, spec, corpus = audit_inputs(session, claim.audit_id)
        tenant_id = audit.tenant_id
        outcome = identical_result(session, audit.id, spec, claim.model, precision.label)
        source = allowed_model_source(session, settings, audit, spec, claim.model) if outcome is None else None
    key = provenance = None
    if source is not None:
        folder, commit = resolve_checkpoint(*source)
        model = model_digest(folder, commit, file_digests(settings.data_dir))
        auc = choose_reference_auc(spec, corpus.meta).value
        key = result_key(model, precision, corpus.sha256, spec, auc, library_versions())
        reused = reused_result(settings, tenant_id, key, claim.model) if spec.cache else None
        if reused is not None:
            outcome, provenance = reused
            provenance = provenance and {**provenance, "name": claim.model, "source": source[0], "revision": commit}
    if outcome is None and source is not None:
        dtype = evaluation_dtype(spec.evaluation.dtype)
        loaded = MODEL_CACHE.get(claim.model, *source, settings.max_model_bytes, dtype)
        outcome = evaluate_variant(loaded, precision, spec, corpus, progress)
        provenance = loaded.provenance().model_dump(mode="json")
    assert outcome is not None
    return result_writer(outcome, provenance, key)


def result_writer(outcome: VariantOutcome, provenance: dict | None, cache_key: str | None) -> OutputWriter:
    def write(session: Session, run: Run, audit: Audit) -> None:
        variant = outcome.variant.model_dump(mode="json")
        session.add(
            Result(run_id=run.id, audit_id=audit.id, variant=variant, model_provenance=provenance, cache_key=cache_key)
        )
        session.add_all(ItemScore.from_record(item, run.id, audit.id) for item in outcome.items)

    return write


@lru_cache(maxsize=4)
def file_digests(data_dir: Path) -> FileDigests:
    """The weight files' digests of this worker process, memoised in the data folder across processes."""
    return FileDigests(data_dir / "file-digests")


def reused_result(
    settings: Settings, tenant_id: str, key: str, model: str
) -> tuple[VariantOutcome, dict | None] | None:
    """The results (and model provenance) this tenant's earlier audit stored under `key`, as `model`'s."""
    with session_scope(settings.sqlalchemy_url) as session:
        cached = repository.cached_result(session, tenant_id, key)
        if cached is None:
            return None
        items = [row.to_record() for row in repository.items_of_run(session, cached.run_id)]
        stored = VariantOutcome(VariantResult.model_validate(cached.variant), items)
        return reused_outcome(stored, model, cached.audit_id), cached.model_provenance


def identical_result(session: Session, audit_id: str, spec: AuditSpec, model: str, label: str) -> VariantOutcome | None:
    """The stored results of the first model (target first, then spec order) whose quantized state at `label`
    has the digest that `model`'s collision run found for it, as `model`'s; None when there is none."""
    at_label = (row for row in repository.collisions_of(session, audit_id) if row.precision_label == label)
    collisions = {row.model: row.result for row in at_label}
    digest = collisions.get(model, {}).get("digest")
    if model == TARGET_NAME or not digest:
        return None
    same = {name for name, result in collisions.items() if name != model and result.get("digest") == digest}
    if collisions[model].get("target_digest") == digest:
        same.add(TARGET_NAME)
    results = {
        row.variant["model"]: row
        for row in repository.results_of(session, audit_id)
        if row.variant["precision_label"] == label and row.variant["model"] in same
    }
    for name in (name for name in spec.model_names if name in results):
        source = results[name]
        items = [row.to_record() for row in repository.items_of_run(session, source.run_id)]
        return identical_outcome(VariantOutcome(VariantResult.model_validate(source.variant), items), model, digest)
    return None


def collision(settings: Settings, claim: Claim, progress: Progress) -> OutputWriter:
    """Reads both checkpoints tensor by tensor (no model-size limit applies: no model is loaded whole)."""
    prefetch(settings, claim.audit_id, claim.model)
    with session_scope(settings.sqlalchemy_url) as session:
        audit, spec, _corpus = audit_inputs(session, claim.audit_id)
        target_source = allowed_model_source(session, settings, audit, spec, TARGET_NAME)
        unlearned_source = allowed_model_source(session, settings, audit, spec, claim.model)
        precision = PRECISION.validate_python(claim.precision)
        target_digest = repository.known_target_digest(session, claim.audit_id, precision.label)
    target_dir, _ = resolve_checkpoint(*target_source)
    unlearned_dir, _ = resolve_checkpoint(*unlearned_source)
    progress("collision", 0, 1)
    result = bucket_collision(target_dir, unlearned_dir, precision, target_digest=target_digest)

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
    """Make the unlearned model (storing it releases the runs that were waiting for it)."""
    with session_scope(settings.sqlalchemy_url) as session:
        audit, spec, corpus = audit_inputs(session, claim.audit_id)
        source, revision = allowed_model_source(session, settings, audit, spec, TARGET_NAME)
    config = next(c for c in spec.unlearning if c.name == claim.model)
    target = MODEL_CACHE.get(TARGET_NAME, source, revision, settings.max_model_bytes)
    seed = unlearning_seed(spec, config)
    checkpoint_root = audit_checkpoint_dir(settings, audit.id)
    folder, record = unlearn_model(config, target, corpus, seed, checkpoint_root, progress)
    MODEL_CACHE.clear()  # training may have touched the cached target's weights
    record.checkpoint = publish(settings, audit.id, claim.model, folder)  # the store's URL when one is set

    def write(session: Session, run: Run, audit: Audit) -> None:
        session.add(
            UnlearningRecordRow(
                run_id=run.id,
                audit_id=audit.id,
                model=run.model,
                checkpoint=record.checkpoint,
                record=record.model_dump(mode="json"),
            )
        )

    return write


def summarize_audit(session: Session, audit: Audit) -> None:
    """Write the summary, verdicts and provenance, and close the audit (failed if any run failed)."""
    spec = stored_spec(audit)
    corpus = corpora_repository.by_id(session, audit.tenant_id, audit.corpus_id)
    if corpus is None:
        raise LookupError(f"audit '{audit.id}': its corpus '{audit.corpus_id}' is missing")
    variants = load_report(session, audit, with_items=False).variants
    items = repository.item_scores_of(session, audit.id, list(spec.metrics))
    summary = summarize(spec, variants, items, skipped_metrics(spec, corpus.parts))
    runs = run_repository.runs_of(session, [audit.id])
    audit.summary = summary.model_dump(mode="json")
    started_at = audit.started_at.isoformat() if audit.started_at else None
    models = models_of(session, audit)
    meta = corpus.document.get(META_FOLDER)
    reference_auc = choose_reference_auc(spec, None if meta is None else BundleMeta.model_validate(meta))
    provenance = audit_provenance(
        spec, corpus.sha256, corpus.parts, models, run_timings(runs), started_at, reference_auc
    )
    provenance.audit_id = audit.id
    audit.provenance = provenance.model_dump(mode="json")
    finish_audit(session, audit, runs)


def models_of(session: Session, audit: Audit) -> list[ModelProvenance]:
    """Each evaluated model as its evaluate runs loaded it (once per model)."""
    models = {
        row.variant["model"]: ModelProvenance.model_validate(row.model_provenance)
        for row in repository.results_of(session, audit.id)
        if row.model_provenance
    }
    return list(models.values())


def run_timings(runs: list[Run]) -> dict[str, float]:
    """Seconds per stage, a stage being a run kind and model (e.g. "evaluate target": all its precisions)."""
    timings: dict[str, float] = {}
    for run in runs:
        if run.started_at and run.finished_at:
            stage = f"{run.kind} {run.model}"
            timings[stage] = timings.get(stage, 0.0) + (run.finished_at - run.started_at).total_seconds()
    return timings
