"""Paired bootstrap over items (DESIGN 8.5): one set of resampled item indices per metric, applied to every
variant, since the items are the same prompts for every model and precision.

Torch-free: the service's summary task and the CLI both call it through worker.engine.summary.
"""

from collections.abc import Iterable

import numpy as np

from service.specs.metrics import METRIC_NAMES
from service.specs.naming import TARGET_NAME
from service.specs.report import IntervalEstimate, ItemRecord

FULL = "full"  # the label of full precision, the baseline of recovery
Variant = tuple[str, str]  # (model, precision label)
Interval = tuple[float | None, float | None]
CELLS_PER_CHUNK = 2_000_000  # resamples x items drawn at a time: bounds the memory of a large audit


def item_scores(items: Iterable[ItemRecord], metric: str) -> dict[Variant, dict[int, float]]:
    """{(model, precision label): {item index: score}} of one metric."""
    scores: dict[Variant, dict[int, float]] = {}
    for item in items:
        if item.metric == metric:
            scores.setdefault((item.model, item.precision_label), {})[item.index] = item.score
    return scores


def resampled_means(matrix: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Mean of each variant (row of `matrix`, variants x items) over each resample (row of `picks`, item
    positions): variants x resamples. The same picks for every variant make the resamples paired."""
    resamples, items = picks.shape[0], matrix.shape[1]
    flat = (np.arange(resamples)[:, None] * items + picks).ravel()
    counts = np.bincount(flat, minlength=resamples * items).reshape(resamples, items)
    return matrix @ counts.T / picks.shape[1]


def paired_means(
    scores: dict[Variant, dict[int, float]], metric: str, samples: int, seed: int
) -> dict[Variant, np.ndarray]:
    """Each variant's mean over the same `samples` resamples of the items every variant has, seeded by the
    spec's seed and the metric (so adding a metric to a spec changes no other metric's intervals)."""
    if not scores:
        return {}
    common = sorted(set.intersection(*(set(by_index) for by_index in scores.values())))
    if not common:
        return {}
    variants = sorted(scores)  # the same order in every runner, whatever order the items came in
    matrix = np.array([[scores[variant][index] for index in common] for variant in variants], dtype=np.float64)
    rng = np.random.default_rng([seed, METRIC_NAMES.index(metric)])
    chunk = max(1, CELLS_PER_CHUNK // len(common))
    means = np.empty((len(variants), samples))
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        means[:, start : start + size] = resampled_means(matrix, rng.integers(0, len(common), size=(size, len(common))))
    return dict(zip(variants, means, strict=True))


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Per resample; NaN where the denominator is 0 (those resamples do not count in an interval)."""
    safe = np.where(denominator > 0.0, denominator, 1.0)
    return np.where(denominator > 0.0, numerator / safe, np.nan)


def percentile_interval(statistics: np.ndarray | None, confidence: float) -> Interval:
    """The percentile interval at `confidence` over the resamples where the statistic is defined."""
    if statistics is None:
        return None, None
    defined = statistics[~np.isnan(statistics)]
    if defined.size == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(defined, (tail, 100.0 - tail))
    return float(low), float(high)


class PairedMetric:
    """One metric's point values (the metrics' means) and paired intervals: the target's mean, each model's
    retained share m(u, p) / m(target, p) and recovery retained(u, p) - retained(u, full), per resample."""

    def __init__(
        self,
        metric: str,
        points: dict[Variant, float | None],
        items: Iterable[ItemRecord],
        samples: int,
        seed: int,
        confidence: float,
    ) -> None:
        self.points = points
        self.means = paired_means(item_scores(items, metric), metric, samples, seed)
        self.confidence = confidence

    def estimate(self, value: float | None, statistics: np.ndarray | None) -> IntervalEstimate:
        low, high = percentile_interval(statistics, self.confidence)
        return IntervalEstimate(value=value, ci_low=low, ci_high=high)

    def target(self, label: str) -> IntervalEstimate:
        return self.estimate(self.points.get((TARGET_NAME, label)), self.means.get((TARGET_NAME, label)))

    def _share_point(self, model: str, label: str) -> float | None:
        value, target = self.points.get((model, label)), self.points.get((TARGET_NAME, label))
        return None if value is None or target is None or target <= 0.0 else value / target

    def _share_samples(self, model: str, label: str) -> np.ndarray | None:
        value, target = self.means.get((model, label)), self.means.get((TARGET_NAME, label))
        return None if value is None or target is None else ratio(value, target)

    def retained(self, model: str, label: str) -> IntervalEstimate:
        return self.estimate(self._share_point(model, label), self._share_samples(model, label))

    def recovery(self, model: str, label: str) -> IntervalEstimate:
        at_label, at_full = self._share_point(model, label), self._share_point(model, FULL)
        value = None if at_label is None or at_full is None else at_label - at_full
        samples, full_samples = self._share_samples(model, label), self._share_samples(model, FULL)
        difference = None if samples is None or full_samples is None else samples - full_samples
        return self.estimate(value, difference)
