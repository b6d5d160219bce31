"""Bootstrap intervals: contain the statistic, are seeded, and vanish with zero samples."""

import numpy as np

from worker.engine.metrics.bootstrap import mean_interval, two_sample_interval

SCORES = [0.0, 0.1, 0.5, 0.9, 1.0, 0.3, 0.7, 0.2]


def test_mean_interval_contains_the_mean_and_is_seeded():
    low, high = mean_interval(SCORES, samples=500, seed=3)
    assert low < np.mean(SCORES) < high
    assert low >= 0.0 and high <= 1.0
    assert mean_interval(SCORES, samples=500, seed=3) == (low, high)
    assert mean_interval(SCORES, samples=500, seed=4) != (low, high)


def test_mean_interval_is_the_percentile_interval_of_resampled_means():
    rng = np.random.default_rng(7)
    values = np.asarray(SCORES)
    means = values[rng.integers(0, len(values), size=(200, len(values)))].mean(axis=1)
    assert mean_interval(SCORES, samples=200, seed=7) == tuple(np.percentile(means, [2.5, 97.5]))


def test_no_interval_without_samples_or_items():
    assert mean_interval(SCORES, samples=0, seed=0) == (None, None)
    assert mean_interval([], samples=100, seed=0) == (None, None)


def test_constant_scores_give_a_point_interval():
    assert mean_interval([0.4] * 5, samples=100, seed=0) == (0.4, 0.4)


def test_two_sample_interval_resamples_each_group_and_is_seeded():
    first, second = [1.0, 2.0, 3.0, 4.0], [10.0, 11.0, 12.0]
    difference = lambda a, b: float(b.mean() - a.mean())  # noqa: E731
    low, high = two_sample_interval(first, second, difference, samples=300, seed=1)
    assert low < difference(np.asarray(first), np.asarray(second)) < high
    # with groups kept apart, every resample differs by 6 to 11: the bounds stay inside
    assert low >= 6.0 and high <= 11.0
    assert two_sample_interval(first, second, difference, samples=300, seed=1) == (low, high)
    assert two_sample_interval(first, second, difference, samples=0, seed=1) == (None, None)
