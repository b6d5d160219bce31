"""The units of work: one variant (model x precision) evaluated, one model unlearned (the third, one
collision measured, is worker.engine.collision.bucket_collision).

The in-process runner (worker.engine.runner) and the service's tasks (worker.runs) both call these.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from service.specs.audit import AuditSpec
from service.specs.corpus import CorpusBundle
from service.specs.precision import PrecisionConfig
from service.specs.reference import choose_reference_auc
from service.specs.report import ItemRecord, UnlearningRecord, VariantResult
from service.specs.unlearning import UnlearningConfig
from worker.engine.metrics import evaluate
from worker.engine.metrics.base import EvalContext
from worker.engine.models import LoadedModel, release_memory
from worker.engine.progress import Progress, no_progress
from worker.engine.quantizers import get_quantizer
from worker.engine.unlearning import run_unlearning, save_unlearned


@dataclass
class VariantOutcome:
    variant: VariantResult
    items: list[ItemRecord] = field(default_factory=list)


def calibration_texts(corpus: CorpusBundle, count: int) -> list[str]:
    """Texts for calibration-based quantizers: general text the model should keep (retain, then holdout)."""
    for part in (corpus.raw_retain, corpus.privleak_retain, corpus.privleak_holdout, corpus.raw_forget):
        if part:
            return _split_documents(part, count)
    return []


def _split_documents(documents: list[str], count: int) -> list[str]:
    paragraphs = [p.strip() for document in documents for p in document.split("\n\n") if p.strip()]
    return paragraphs[:count]


def evaluation_context(
    spec: AuditSpec, model_name: str, precision_label: str, progress: Progress, reference_auc: float | None = None
) -> EvalContext:
    return EvalContext(
        limits=spec.limits,
        seed=spec.seed,
        model_name=model_name,
        precision_label=precision_label,
        reference_auc=reference_auc,
        progress=progress,
        verbmem=spec.evaluation.verbmem,
    )


def evaluate_variant(
    loaded: LoadedModel,
    precision: PrecisionConfig,
    spec: AuditSpec,
    corpus: CorpusBundle,
    progress: Progress = no_progress,
    reference_auc: float | None = None,
) -> VariantOutcome:
    """Build one precision of a loaded model, evaluate every requested text metric, keep per-item evidence.

    `reference_auc` is the AUC the CLI measured on the spec's reference model, if any (service.specs.reference
    decides which AUC normalises PrivLeak)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    quantizer = get_quantizer(precision)
    quantizer.check_environment()
    progress("quantize", 0, 1)
    calibration = (
        calibration_texts(corpus, getattr(precision, "calibration_samples", 0))
        if quantizer.requires_calibration
        else None
    )
    model, quantized = quantizer.quantize(loaded.model, loaded.tokenizer, calibration)
    progress("quantize", 1, 1)
    timings["quantize"] = time.perf_counter() - started
    auc = choose_reference_auc(spec, corpus.meta, reference_auc).value
    context = evaluation_context(spec, loaded.name, precision.label, progress, auc)
    outcomes = evaluate(model, loaded.tokenizer, corpus, spec.evaluation_metrics, context)
    if model is not loaded.model:
        del model
        release_memory()
    timings["evaluate"] = time.perf_counter() - started - timings["quantize"]
    variant = VariantResult(
        model=loaded.name,
        precision=precision.model_dump(mode="json"),
        precision_label=precision.label,
        metrics={name: outcome.result.value for name, outcome in outcomes.items()},
        metric_details={name: outcome.result for name, outcome in outcomes.items()},
        timings=timings,
        quantized=quantized,
    )
    return VariantOutcome(variant, [item for outcome in outcomes.values() for item in outcome.items])


def identical_outcome(source: VariantOutcome, model: str, digest: str) -> VariantOutcome:
    """The results and per-item evidence of `source` as those of `model`, whose quantized state is the same
    (equal digests, worker.engine.identity): it is not evaluated again."""
    return outcome_as(source, model, identical_to=source.variant.model, state_digest=digest)


def reused_outcome(source: VariantOutcome, model: str, audit_id: str) -> VariantOutcome:
    """A cached variant (same result key, service.specs.cache_key) as `model`'s in this audit."""
    return outcome_as(source, model, reused_from=audit_id, identical_to=None)


def outcome_as(source: VariantOutcome, model: str, **marks: str | None) -> VariantOutcome:
    variant = source.variant.model_copy(deep=True, update={"model": model, "timings": {}, **marks})
    return VariantOutcome(variant, [item.model_copy(update={"model": model}) for item in source.items])


def unlearn_model(
    config: UnlearningConfig,
    target: LoadedModel,
    corpus: CorpusBundle,
    seed: int,
    checkpoint_root: Path,
    progress: Progress = no_progress,
) -> tuple[Path, UnlearningRecord]:
    """Run one unlearning recipe on the target and save the result as an ordinary model folder."""
    outcome = run_unlearning(config, target.model, target.tokenizer, corpus, seed, progress)
    folder = save_unlearned(outcome, target.tokenizer, checkpoint_root / config.name)
    outcome.record.checkpoint = str(folder)
    del outcome.model
    release_memory()
    return folder, outcome.record
