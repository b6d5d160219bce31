"""The text metrics (DESIGN 8.1-8.4) behind one registry, and `evaluate` that runs the requested ones."""

import dataclasses

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from service.specs.metrics import missing_parts
from worker.engine.metrics.base import EvalContext, Metric, MetricOutcome, skipped_outcome
from worker.engine.metrics.knowmem import KnowMemForget, KnowMemRetain
from worker.engine.metrics.privleak import PrivLeak
from worker.engine.metrics.verbmem import VerbMem
from worker.engine.models import batch_size_for
from worker.engine.registry import Registry

METRICS: Registry[type[Metric]] = Registry("metric")
for _metric in (VerbMem, KnowMemForget, KnowMemRetain, PrivLeak):
    METRICS.register(_metric.name)(_metric)


def skip_reason(metric: str, corpus: CorpusBundle) -> str | None:
    """Why `metric` cannot be measured on this bundle (the parts it lacks), or None when it can."""
    METRICS.get(metric)  # an unknown name fails here, with the known names
    missing = missing_parts(metric, corpus.present_parts())
    return f"the bundle has no {' or '.join(missing)}" if missing else None


@torch.inference_mode()
def evaluate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    corpus: CorpusBundle,
    metric_names: list[str],
    context: EvalContext,
) -> dict[str, MetricOutcome]:
    """Each requested metric's outcome; a metric whose bundle parts are missing is skipped with the reason.

    Batches are as large as the spec allows and the worker's device holds (models.batch_size_for).
    """
    outcomes = {}
    fitted: EvalContext | None = None
    for name in metric_names:
        reason = skip_reason(name, corpus)
        if reason is not None:
            outcomes[name] = skipped_outcome(name, reason)
            continue
        fitted = fitted or fitted_to_device(model, context)
        outcomes[name] = METRICS.get(name)().compute(model, tokenizer, corpus, fitted)
    return outcomes


def fitted_to_device(model: PreTrainedModel, context: EvalContext) -> EvalContext:
    """The context with the batch size that the model's device holds (never above the spec's)."""
    limits = context.limits.model_copy(update={"batch_size": batch_size_for(model, context.limits.batch_size)})
    return dataclasses.replace(context, limits=limits)
