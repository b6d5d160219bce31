"""95% percentile bootstrap intervals over items, seeded so that a report can be reproduced."""

from collections.abc import Callable, Sequence

import numpy as np

Interval = tuple[float | None, float | None]
NO_INTERVAL: Interval = (None, None)
PERCENTILES = (2.5, 97.5)  # a 95% interval


def _percentiles(statistics: np.ndarray) -> Interval:
    low, high = np.percentile(statistics, PERCENTILES)
    return float(low), float(high)


def mean_interval(scores: Sequence[float], samples: int, seed: int) -> Interval:
    """Interval of the mean of `scores`; no interval without samples or items."""
    if samples == 0 or not scores:
        return NO_INTERVAL
    values = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    resampled = rng.integers(0, len(values), size=(samples, len(values)))
    return _percentiles(values[resampled].mean(axis=1))


def two_sample_interval(
    first: Sequence[float],
    second: Sequence[float],
    statistic: Callable[[np.ndarray, np.ndarray], float],
    samples: int,
    seed: int,
) -> Interval:
    """Interval of statistic(first, second), resampling each group on its own (keeps the group sizes)."""
    if samples == 0 or not first or not second:
        return NO_INTERVAL
    first_values, second_values = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    rng = np.random.default_rng(seed)
    statistics = np.empty(samples)
    for sample in range(samples):
        first_pick = first_values[rng.integers(0, len(first_values), len(first_values))]
        second_pick = second_values[rng.integers(0, len(second_values), len(second_values))]
        statistics[sample] = statistic(first_pick, second_pick)
    return _percentiles(statistics)
