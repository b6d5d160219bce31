"""The audit pipeline. The unit of work is one variant (model x precision): `evaluate_variant`.

`run_audit` runs a whole audit in one process (CLI, tests): each model is read from disk once, every
precision of it is built from the weights in memory, the target's results are computed once and shared, and
each model is freed as soon as no remaining variant needs it. The service spreads the same units over workers.
"""

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from service.specs.audit import AuditSpec
from service.specs.corpus import CorpusBundle
from service.specs.naming import TARGET_NAME
from service.specs.precision import PrecisionConfig
from service.specs.report import (
    CollisionResult,
    ItemRecord,
    ModelProvenance,
    Provenance,
    Report,
    UnlearningRecord,
    VariantResult,
)
from service.specs.unlearning import UnlearningConfig
from worker.engine.collision import bucket_collision
from worker.engine.metrics import evaluate, skip_reason
from worker.engine.metrics.base import EvalContext
from worker.engine.models import LoadedModel, load_model
from worker.engine.progress import Progress, no_progress
from worker.engine.quantizers import get_quantizer
from worker.engine.summary import summarize
from worker.engine.unlearning import run_unlearning, save_unlearned

LIBRARIES = ("torch", "transformers", "bitsandbytes", "llmcompressor", "compressed-tensors", "rouge-score")


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


def evaluation_context(spec: AuditSpec, progress: Progress, reference_auc: float | None = None) -> EvalContext:
    auc = reference_auc if reference_auc is not None else (spec.reference.auc if spec.reference else None)
    return EvalContext(limits=spec.limits, seed=spec.seed, reference_auc=auc, progress=progress)


def evaluate_variant(
    loaded: LoadedModel,
    precision: PrecisionConfig,
    spec: AuditSpec,
    corpus: CorpusBundle,
    progress: Progress = no_progress,
    reference_auc: float | None = None,
) -> VariantOutcome:
    """Build one precision of a loaded model, evaluate every requested text metric, keep per-item evidence."""
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
    context = evaluation_context(spec, progress, reference_auc)
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
    items = [
        ItemRecord(
            model=loaded.name,
            precision_label=precision.label,
            metric=name,
            index=item.index,
            score=item.score,
            output=item.output,
            truth=item.truth,
            prompt=item.prompt,
            truncated=item.truncated,
            **item.extra,
        )
        for name, outcome in outcomes.items()
        for item in outcome.items
    ]
    return VariantOutcome(variant, items)


def collision_for(
    target_dir: Path, unlearned_dir: Path, model_name: str, precision: PrecisionConfig
) -> CollisionResult:
    """Bucket collision of one unlearned model against the target under one precision (no data needed)."""
    del model_name  # the result is keyed by the caller; kept in the signature for the task layer's logs
    return bucket_collision(target_dir, unlearned_dir, precision)


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


def skipped_metrics(spec: AuditSpec, corpus: CorpusBundle) -> dict[str, str]:
    """Requested metrics that cannot be measured on this bundle or spec, with the reason."""
    skipped = {}
    for metric in spec.evaluation_metrics:
        reason = skip_reason(metric, corpus)
        if reason:
            skipped[metric] = reason
    if "collision" in spec.metrics and all(p.method == "full" for p in spec.precisions):
        skipped["collision"] = "no quantized precision requested: collision compares quantized codes"
    return skipped


def check_unlearning_inputs(spec: AuditSpec, corpus: CorpusBundle) -> None:
    """Unlearning needs forget text, and a retain term needs retain text: refuse early, naming the field."""
    for index, config in enumerate(spec.unlearning):
        if corpus.raw_forget is None:
            raise ValueError(f"unlearning.{index} ({config.name}): the corpus has no raw/forget text to unlearn")
        needs_retain = config.method == "rmu" or getattr(config, "retain_loss", None) is not None
        if needs_retain and corpus.raw_retain is None:
            raise ValueError(f"unlearning.{index} ({config.name}): {config.method} needs raw/retain text")


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("unlearn-audit", *LIBRARIES):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def model_provenance(loaded: LoadedModel) -> ModelProvenance:
    return ModelProvenance(
        name=loaded.name,
        source=loaded.source,
        revision=loaded.revision,
        dtype=loaded.dtype,
        n_parameters=loaded.n_parameters,
    )


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def spec_for_report(spec: AuditSpec, corpus: CorpusBundle) -> dict:
    """The spec as given, with an inline corpus replaced by its content address (the text is private data)."""
    document = spec.model_dump(mode="json")
    if isinstance(spec.corpus, dict):
        document["corpus"] = f"sha256:{corpus.sha256}"
    return document


def assemble_report(
    spec: AuditSpec,
    corpus: CorpusBundle,
    outcomes: list[VariantOutcome],
    collisions: dict[tuple[str, str], CollisionResult],
    unlearning_records: list[UnlearningRecord],
    provenance: Provenance,
) -> Report:
    """The report: variants in spec order, collisions attached to their variants, and the summary."""
    variants = [outcome.variant for outcome in outcomes]
    for variant in variants:
        variant.collision = collisions.get((variant.model, variant.precision_label))
    order = {name: i for i, name in enumerate(spec.model_names)}
    labels = {label: i for i, label in enumerate(spec.precision_labels)}
    variants.sort(key=lambda v: (order.get(v.model, len(order)), labels.get(v.precision_label, len(labels))))
    skipped = skipped_metrics(spec, corpus)
    return Report(
        spec=spec_for_report(spec, corpus),
        variants=variants,
        items=[item for outcome in outcomes for item in outcome.items],
        summary=summarize(spec, variants, skipped),
        unlearning=unlearning_records,
        provenance=provenance,
    )


class AuditRun:
    """One audit in one process. Holds the state `run_audit` threads through its stages."""

    def __init__(self, spec: AuditSpec, corpus: CorpusBundle, workdir: Path, progress: Progress):
        self.spec = spec
        self.corpus = corpus
        self.workdir = workdir
        self.progress = progress
        self.outcomes: list[VariantOutcome] = []
        self.records: list[UnlearningRecord] = []
        self.model_dirs: dict[str, Path] = {}
        self.provenance = Provenance(
            corpus_sha256=corpus.sha256,
            corpus_parts=corpus.summary(),
            seed=spec.seed,
            library_versions=library_versions(),
            started_at=datetime.now(UTC).isoformat(),
        )
        self.reference_auc: float | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.provenance.timings[stage] = self.provenance.timings.get(stage, 0.0) + time.perf_counter() - started

    def load(self, name: str, source: str, revision: str | None = None) -> LoadedModel:
        loaded = load_model(name, source, revision)
        self.model_dirs[name] = loaded.checkpoint_dir
        self.provenance.models[name] = model_provenance(loaded)
        self.provenance.device = str(loaded.device)
        return loaded

    def evaluate_all_precisions(self, loaded: LoadedModel) -> None:
        with self.timed(f"evaluate {loaded.name}"):
            for precision in self.spec.precisions:
                reporter = prefixed(self.progress, f"{loaded.name} @ {precision.label}: ")
                self.outcomes.append(
                    evaluate_variant(loaded, precision, self.spec, self.corpus, reporter, self.reference_auc)
                )

    def measure_reference_auc(self) -> None:
        """A reference model without a given AUC: measure its PrivLeak AUC at full precision."""
        reference = self.spec.reference
        if reference is None or reference.model is None or reference.auc is not None:
            return
        if skip_reason("privleak", self.corpus):
            return
        loaded = self.load("reference", reference.model, reference.revision)
        outcome = evaluate(
            loaded.model, loaded.tokenizer, self.corpus, ["privleak"], evaluation_context(self.spec, self.progress)
        )
        self.reference_auc = outcome["privleak"].result.extra.get("auc")
        del loaded
        release_memory()

    def run(self) -> Report:
        with self.timed("reference"):
            self.measure_reference_auc()
        target = self.load(TARGET_NAME, self.spec.target.model, self.spec.target.revision)
        self.evaluate_all_precisions(target)
        with self.timed("unlearning"):
            self.unlearn_all(target)
        del target
        release_memory()
        sources = [(m.name, m.model, m.revision) for m in self.spec.unlearned]
        sources += [(c.name, str(self.model_dirs[c.name]), None) for c in self.spec.unlearning]
        for name, source, revision in sources:
            loaded = self.load(name, source, revision)
            self.evaluate_all_precisions(loaded)
            del loaded
            release_memory()
        with self.timed("collision"):
            collisions = self.collisions()
        self.provenance.finished_at = datetime.now(UTC).isoformat()
        return assemble_report(self.spec, self.corpus, self.outcomes, collisions, self.records, self.provenance)

    def unlearn_all(self, target: LoadedModel) -> None:
        for config in self.spec.unlearning:
            seed = config.seed if config.seed is not None else self.spec.seed
            reporter = prefixed(self.progress, f"unlearn {config.name}: ")
            folder, record = unlearn_model(config, target, self.corpus, seed, self.workdir / "checkpoints", reporter)
            self.model_dirs[config.name] = folder
            self.records.append(record)

    def collisions(self) -> dict[tuple[str, str], CollisionResult]:
        if "collision" not in self.spec.metrics:
            return {}
        quantized = [p for p in self.spec.precisions if p.method != "full"]
        pairs = [(name, p) for name in self.spec.model_names[1:] for p in quantized]
        results = {}
        for done, (name, precision) in enumerate(pairs):
            self.progress("collision", done, len(pairs))
            results[(name, precision.label)] = collision_for(
                self.model_dirs[TARGET_NAME], self.model_dirs[name], name, precision
            )
        self.progress("collision", len(pairs), len(pairs))
        return results


def prefixed(progress: Progress, prefix: str) -> Progress:
    """The same progress sink, with every stage name prefixed (e.g. by the variant it belongs to)."""

    def report(stage: str, done: int, total: int) -> None:
        progress(prefix + stage, done, total)

    return report


def run_audit(spec: AuditSpec, corpus: CorpusBundle, workdir: Path, progress: Progress = no_progress) -> Report:
    """Run a whole audit in this process and return its report."""
    check_unlearning_inputs(spec, corpus)
    return AuditRun(spec, corpus, workdir, progress).run()
