"""A whole audit in one process (CLI, tests): `run_audit`.

Each model is read from disk once, every precision of it is built from the weights in memory, the target's
results are computed once and shared, and each model is freed as soon as no remaining variant needs it. The
service spreads the same units (worker.engine.variant) over workers; both assemble the report the same way
(service.specs.assembly).
"""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from service.specs.assembly import (
    assemble_report,
    audit_provenance,
    library_versions,
    report_spec,
    unlearning_seed,
)
from service.specs.audit import AuditSpec
from service.specs.cache_key import result_key
from service.specs.corpus import CorpusBundle
from service.specs.metrics import skip_reason
from service.specs.naming import TARGET_NAME
from service.specs.precision import PrecisionConfig
from service.specs.reference import choose_reference_auc
from service.specs.report import CollisionResult, ModelProvenance, Report, UnlearningRecord, VariantResult
from service.specs.requirements import check_unlearning_inputs, skipped_metrics
from worker.engine.collision import bucket_collision, state_digest
from worker.engine.metrics import evaluate
from worker.engine.model_digest import model_digest
from worker.engine.models import (
    LoadedModel,
    ModelLoadError,
    evaluation_dtype,
    load_model,
    release_memory,
    resolve_checkpoint,
)
from worker.engine.progress import Progress, no_progress
from worker.engine.result_cache import FolderCache
from worker.engine.summary import summarize
from worker.engine.variant import (
    VariantOutcome,
    evaluate_variant,
    evaluation_context,
    identical_outcome,
    reused_outcome,
    unlearn_model,
)
from worker.runs.errors import public_error


class AuditRun:
    """One audit in one process. Holds the state `run_audit` threads through its stages."""

    def __init__(
        self, spec: AuditSpec, corpus: CorpusBundle, workdir: Path, progress: Progress, cache: FolderCache | None
    ):
        self.spec = spec
        self.cache = cache if spec.cache else None
        self.audit_id = uuid.uuid4().hex
        self.corpus = corpus
        self.workdir = workdir
        self.progress = progress
        self.outcomes: list[VariantOutcome] = []
        self.records: list[UnlearningRecord] = []
        self.model_dirs: dict[str, Path] = {}
        self.models: list[ModelProvenance] = []
        self.timings: dict[str, float] = {}
        self.started_at = datetime.now(UTC).isoformat()
        self.reference_auc: float | None = None
        self.digests: dict[tuple[str, str], str | None] = {}  # (model, precision label): quantized state digest
        self.evaluated: dict[str, list[VariantOutcome]] = {}  # precision label: outcomes really evaluated
        self.failures: dict[tuple[str, str], str] = {}  # (model, precision label): why its collision failed

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - started

    def load(self, name: str, source: str, revision: str | None = None, stored: bool = False) -> LoadedModel:
        """A model in the evaluation dtype, or as stored (the target, which unlearning starts from)."""
        dtype = None if stored else evaluation_dtype(self.spec.evaluation.dtype)
        loaded = load_model(name, source, revision, dtype=dtype)
        self.model_dirs[name] = loaded.checkpoint_dir
        return loaded

    def evaluate_all_precisions(self, loaded: LoadedModel) -> None:
        self.models.append(loaded.provenance())  # with the dtype it is evaluated in
        with self.timed(f"evaluate {loaded.name}"):
            for precision in self.spec.precisions:
                self.outcomes.append(self.evaluate_or_fail(loaded, precision))

    def evaluate_or_fail(self, loaded: LoadedModel, precision: PrecisionConfig) -> VariantOutcome:
        """The variant's outcome, or the variant failed with its reason (its collision's, when that failed):
        one variant's failure never loses the rest of the report."""
        failure = self.failures.get((loaded.name, precision.label))
        if failure is not None:
            return failed_outcome(loaded.name, precision, failure)
        reporter = prefixed(self.progress, f"{loaded.name} @ {precision.label}: ")
        try:
            return self.evaluate_once(loaded, precision, reporter)
        except Exception as error:
            return failed_outcome(loaded.name, precision, public_error(error))

    def evaluate_once(self, loaded: LoadedModel, precision: PrecisionConfig, progress: Progress) -> VariantOutcome:
        """Evaluate a variant, unless a model evaluated before has the same quantized state at this precision."""
        earlier = self.evaluated.setdefault(precision.label, [])
        digest = self.digest(loaded.name, precision) if earlier else None
        same = [outcome for outcome in earlier if digest and self.digest(outcome.variant.model, precision) == digest]
        if same and digest:
            progress(f"identical to {same[0].variant.model}", 1, 1)
            return identical_outcome(same[0], loaded.name, digest)
        cache = self.cache
        key = self.result_key(loaded, precision, cache) if cache else None
        cached = cache.get(key) if cache and key else None
        if cached is not None:
            progress(f"reused from audit {cached.audit_id}", 1, 1)
            outcome = reused_outcome(cached.outcome, loaded.name, cached.audit_id)
        else:
            outcome = evaluate_variant(loaded, precision, self.spec, self.corpus, progress, self.reference_auc)
            if cache and key:
                cache.put(key, self.audit_id, outcome)
        earlier.append(outcome)
        return outcome

    def result_key(self, loaded: LoadedModel, precision: PrecisionConfig, cache: FolderCache) -> str:
        """The variant's key in the result cache (service.specs.cache_key)."""
        model = model_digest(loaded.checkpoint_dir, loaded.revision, cache.files)
        auc = choose_reference_auc(self.spec, self.corpus.meta, self.reference_auc).value
        return result_key(model, precision, self.corpus.sha256, self.spec, auc, library_versions())

    def digest(self, name: str, precision: PrecisionConfig) -> str | None:
        """The model's quantized state digest at `precision` (None when codes are not exact), computed once."""
        key = (name, precision.label)
        if key not in self.digests:
            self.digests[key] = state_digest(self.model_dirs[name], precision)
        return self.digests[key]

    def measure_reference_auc(self) -> None:
        """A reference model without a given AUC: measure its PrivLeak AUC at full precision."""
        reference = self.spec.reference
        if reference is None or reference.model is None or reference.auc is not None:
            return
        if skip_reason("privleak", self.corpus.present_parts()):
            return
        loaded = self.load("reference", reference.model, reference.revision)
        self.models.append(loaded.provenance())
        context = evaluation_context(self.spec, loaded.name, "full", self.progress)
        outcome = evaluate(loaded.model, loaded.tokenizer, self.corpus, ["privleak"], context)
        self.reference_auc = outcome["privleak"].result.extra.get("auc")
        del loaded
        release_memory()

    def run(self) -> Report:
        with self.timed("reference"):
            self.measure_reference_auc()
        target = self.load(TARGET_NAME, self.spec.target.model, self.spec.target.revision, stored=True)
        with self.timed("unlearning"):
            self.unlearn_all(target)  # from the weights as stored, before any cast for evaluation
        dtype = evaluation_dtype(self.spec.evaluation.dtype)
        if dtype is not None:
            target.model.to(dtype)
        self.evaluate_all_precisions(target)
        del target
        release_memory()
        for model in self.spec.unlearned:
            self.model_dirs[model.name], _commit = resolve_checkpoint(model.model, model.revision)
        with self.timed("collision"):  # before the unlearned models are evaluated: it proves identical states
            collisions = self.collisions()
        sources = [(m.name, m.model, m.revision) for m in self.spec.unlearned]
        sources += [(c.name, str(self.model_dirs[c.name]), None) for c in self.spec.unlearning]
        for name, source, revision in sources:
            try:
                loaded = self.load(name, source, revision)
            except ModelLoadError as error:  # every variant of this model fails; the others are still evaluated
                reason = public_error(error)
                self.outcomes += [failed_outcome(name, precision, reason) for precision in self.spec.precisions]
                continue
            self.evaluate_all_precisions(loaded)
            del loaded
            release_memory()
        return self.report(collisions)

    def unlearn_all(self, target: LoadedModel) -> None:
        for config in self.spec.unlearning:
            reporter = prefixed(self.progress, f"unlearn {config.name}: ")
            seed = unlearning_seed(self.spec, config)
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
            try:
                known = self.digests.get((TARGET_NAME, precision.label))
                result = bucket_collision(
                    self.model_dirs[TARGET_NAME], self.model_dirs[name], precision, target_digest=known
                )
            except Exception as error:  # the variant fails with this reason; the other pairs are still measured
                self.failures[(name, precision.label)] = f"collision: {public_error(error)}"
                continue
            self.digests[(TARGET_NAME, precision.label)] = result.target_digest
            self.digests[(name, precision.label)] = result.digest
            results[(name, precision.label)] = result
        self.progress("collision", len(pairs), len(pairs))
        return results

    def report(self, collisions: dict[tuple[str, str], CollisionResult]) -> Report:
        variants = [outcome.variant for outcome in self.outcomes]
        for variant in variants:
            variant.state_digest = self.digests.get((variant.model, variant.precision_label))
        items = [item for outcome in self.outcomes for item in outcome.items]
        summary = summarize(self.spec, variants, items, skipped_metrics(self.spec, self.corpus.present_parts()))
        sha256 = self.corpus.sha256
        reference_auc = choose_reference_auc(self.spec, self.corpus.meta, self.reference_auc)
        provenance = audit_provenance(
            self.spec, sha256, self.corpus.summary(), self.models, self.timings, self.started_at, reference_auc
        )
        provenance.audit_id = self.audit_id
        return assemble_report(
            self.spec, report_spec(self.spec, sha256), variants, collisions, items, self.records, summary, provenance
        )


def failed_outcome(model: str, precision: PrecisionConfig, reason: str) -> VariantOutcome:
    """A variant that could not be built or evaluated, recorded with its reason."""
    return VariantOutcome(VariantResult.failed(model, precision.model_dump(mode="json"), precision.label, reason))


def prefixed(progress: Progress, prefix: str) -> Progress:
    """The same progress sink, with every stage name prefixed (e.g. by the variant it belongs to)."""

    def report(stage: str, done: int, total: int) -> None:
        progress(prefix + stage, done, total)

    return report


def run_audit(
    spec: AuditSpec,
    corpus: CorpusBundle,
    workdir: Path,
    progress: Progress = no_progress,
    cache: FolderCache | None = None,
) -> Report:
    """Run a whole audit in this process and return its report; with a cache, reuse (and keep) results."""
    check_unlearning_inputs(spec, corpus.present_parts())
    return AuditRun(spec, corpus, workdir, progress, cache).run()
