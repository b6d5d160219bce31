"""What every metric shares: its inputs (EvalContext) and its outcome (the result and the per-item evidence)."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.audit import Limits
from service.specs.corpus import CorpusBundle
from service.specs.evaluation import VerbMemDecoding
from service.specs.metrics import METRICS as METRIC_INFO
from service.specs.report import ItemRecord, MetricResult
from worker.engine.generation import BatchDone
from worker.engine.metrics.bootstrap import NO_INTERVAL, Interval, mean_interval
from worker.engine.progress import Progress, no_progress

ItemT = TypeVar("ItemT")


@dataclass
class EvalContext:
    limits: Limits  # max_items (first N items of each set), batch_size, bootstrap_samples
    seed: int
    model_name: str  # the variant evaluated: every ItemRecord a metric produces carries it
    precision_label: str
    reference_auc: float | None = None  # PrivLeak normalises by it (service.specs.reference), else 0.5
    progress: Progress = no_progress
    verbmem: VerbMemDecoding = field(default_factory=VerbMemDecoding)  # greedy (MUSE) or sampled (the paper)

    def first_items(self, items: Sequence[ItemT]) -> list[ItemT]:
        return list(items[: self.limits.max_items])

    def batch_progress(self, metric: str, total: int) -> BatchDone:
        """A callback for the batched passes that reports `metric` progress in items."""
        self.progress(metric, 0, total)
        return lambda done: self.progress(metric, done, total)

    def item(self, metric: str, index: int, score: float, **evidence: Any) -> ItemRecord:
        """One item's evidence (output, truth, prompt, truncated, label), under the variant evaluated."""
        return ItemRecord(
            model=self.model_name,
            precision_label=self.precision_label,
            metric=metric,
            index=index,
            score=score,
            **evidence,
        )


@dataclass
class MetricOutcome:
    result: MetricResult
    items: list[ItemRecord]


def metric_result(
    name: str,
    value: float | None,
    interval: Interval,
    items: Sequence[ItemRecord],
    extra: dict[str, float | None] | None = None,
    **fields: Any,
) -> MetricResult:
    """A result carrying the metric's unit and direction, its interval and its item counts."""
    info = METRIC_INFO[name]
    return MetricResult(
        value=value,
        ci_low=interval[0],
        ci_high=interval[1],
        unit=info.unit,
        direction=info.direction,
        n_items=len(items),
        n_truncated=sum(item.truncated for item in items),
        extra=extra or {},
        **fields,
    )


def mean_outcome(name: str, items: list[ItemRecord], context: EvalContext, **fields: Any) -> MetricOutcome:
    """The mean item score with its bootstrap interval (VerbMem, KnowMem)."""
    scores = [item.score for item in items]
    value = sum(scores) / len(scores) if scores else None
    interval = mean_interval(scores, context.limits.bootstrap_samples, context.seed)
    return MetricOutcome(metric_result(name, value, interval, items, **fields), items)


def skipped_outcome(name: str, reason: str) -> MetricOutcome:
    return MetricOutcome(metric_result(name, None, NO_INTERVAL, [], skipped_reason=reason), [])


class Metric(ABC):
    name: ClassVar[str]

    @abstractmethod
    def compute(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        corpus: CorpusBundle,
        context: EvalContext,
    ) -> MetricOutcome:
        """Evaluate the model on the bundle parts this metric needs (present: checked by the caller)."""
