"""The text metrics (DESIGN 8.1-8.4) behind one registry, and `evaluate` that runs the requested ones."""

import dataclasses

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from service.specs.metrics import skip_reason
from worker.engine.metrics.base import EvalContext, Metric, MetricOutcome, skipped_outcome
from worker.engine.metrics.knowmem import KnowMemForget, KnowMemRetain
from worker.engine.metrics.privleak import PrivLeak
from worker.engine.metrics.verbmem import VerbMem
from worker.engine.models import batch_size_for
from worker.engine.registry import Registry

METRICS: Registry[type[Metric]] = Registry("metric")
for _metric in (VerbMem, KnowMemForget, KnowMemRetain, PrivLeak):
    METRICS.register(_metric.name)(_metric)


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
    present = corpus.present_parts()
    fitted: EvalContext | None = None
    for name in metric_names:
        metric = METRICS.get(name)  # an unknown name fails here, with the closest known names
        reason = skip_reason(name, present)
        if reason is not None:
            outcomes[name] = skipped_outcome(name, reason)
            continue
        fitted = fitted or fitted_to_device(model, context)
        outcomes[name] = metric().compute(model, tokenizer, corpus, fitted)
    return outcomes


def fitted_to_device(model: PreTrainedModel, context: EvalContext) -> EvalContext:
    """The context with the batch size that the model's device holds (never above the spec's)."""
    limits = context.limits.model_copy(update={"batch_size": batch_size_for(model, context.limits.batch_size)})
    return dataclasses.replace(context, limits=limits)
