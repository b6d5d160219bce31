"""A whole audit in one process (CLI, tests): `run_audit`.

Each model is read from disk once, every precision of it is built from the weights in memory, the target's
results are computed once and shared, and each model is freed as soon as no remaining variant needs it. The
service spreads the same units (worker.engine.variant) over workers; both assemble the report the same way
(service.specs.assembly).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from service.specs.assembly import assemble_report, audit_provenance, report_spec, unlearning_seed
from service.specs.audit import AuditSpec
from service.specs.corpus import CorpusBundle
from service.specs.metrics import skip_reason
from service.specs.naming import TARGET_NAME
from service.specs.reference import choose_reference_auc
from service.specs.report import CollisionResult, ModelProvenance, Report, UnlearningRecord
from service.specs.requirements import check_unlearning_inputs, skipped_metrics
from worker.engine.collision import bucket_collision
from worker.engine.metrics import evaluate
from worker.engine.models import LoadedModel, evaluation_dtype, load_model, release_memory
from worker.engine.progress import Progress, no_progress
from worker.engine.summary import summarize
from worker.engine.variant import VariantOutcome, evaluate_variant, evaluation_context, unlearn_model


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
        self.models: list[ModelProvenance] = []
        self.timings: dict[str, float] = {}
        self.started_at = datetime.now(UTC).isoformat()
        self.reference_auc: float | None = None

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
                reporter = prefixed(self.progress, f"{loaded.name} @ {precision.label}: ")
                self.outcomes.append(
                    evaluate_variant(loaded, precision, self.spec, self.corpus, reporter, self.reference_auc)
                )

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
        sources = [(m.name, m.model, m.revision) for m in self.spec.unlearned]
        sources += [(c.name, str(self.model_dirs[c.name]), None) for c in self.spec.unlearning]
        for name, source, revision in sources:
            loaded = self.load(name, source, revision)
            self.evaluate_all_precisions(loaded)
            del loaded
            release_memory()
        with self.timed("collision"):
            collisions = self.collisions()
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
            results[(name, precision.label)] = bucket_collision(
                self.model_dirs[TARGET_NAME], self.model_dirs[name], precision
            )
        self.progress("collision", len(pairs), len(pairs))
        return results

    def report(self, collisions: dict[tuple[str, str], CollisionResult]) -> Report:
        variants = [outcome.variant for outcome in self.outcomes]
        summary = summarize(self.spec, variants, skipped_metrics(self.spec, self.corpus.present_parts()))
        sha256 = self.corpus.sha256
        reference_auc = choose_reference_auc(self.spec, self.corpus.meta, self.reference_auc)
        provenance = audit_provenance(
            self.spec, sha256, self.corpus.summary(), self.models, self.timings, self.started_at, reference_auc
        )
        items = [item for outcome in self.outcomes for item in outcome.items]
        return assemble_report(
            self.spec, report_spec(self.spec, sha256), variants, collisions, items, self.records, summary, provenance
        )


def prefixed(progress: Progress, prefix: str) -> Progress:
    """The same progress sink, with every stage name prefixed (e.g. by the variant it belongs to)."""

    def report(stage: str, done: int, total: int) -> None:
        progress(prefix + stage, done, total)

    return report


def run_audit(spec: AuditSpec, corpus: CorpusBundle, workdir: Path, progress: Progress = no_progress) -> Report:
    """Run a whole audit in this process and return its report."""
    check_unlearning_inputs(spec, corpus.present_parts())
    return AuditRun(spec, corpus, workdir, progress).run()
