"""The paired bootstrap: one set of item resamples per metric, applied to every variant."""

import numpy as np
import pytest

from service.specs.report import ItemRecord
from worker.engine.paired import PairedMetric, paired_means, percentile_interval, resampled_means


def test_resampled_means_by_hand():
    matrix = np.array([[0.2, 0.4, 0.6], [0.0, 0.4, 0.8]])  # two variants, three items
    picks = np.array([[0, 0, 2], [1, 2, 2]])  # two resamples of three item positions
    means = resampled_means(matrix, picks)
    assert means[0] == pytest.approx([(0.2 + 0.2 + 0.6) / 3, (0.4 + 0.6 + 0.6) / 3])
    assert means[1] == pytest.approx([(0.0 + 0.0 + 0.8) / 3, (0.4 + 0.8 + 0.8) / 3])


def records(model, label, scores):
    return [ItemRecord(model=model, precision_label=label, metric="verbmem_f", index=i, score=s)
            for i, s in enumerate(scores)]  # fmt: skip


TARGET_FULL, TARGET_Q = [0.8, 0.6, 0.4, 0.2], [0.7, 0.5, 0.5, 0.3]
MODEL_FULL, MODEL_Q = [0.1, 0.2, 0.0, 0.1], [0.4, 0.3, 0.2, 0.1]


def test_retained_and_recovery_intervals_replay_the_same_resamples_for_every_variant():
    items = (records("target", "full", TARGET_FULL) + records("target", "q", TARGET_Q)
             + records("u", "full", MODEL_FULL) + records("u", "q", MODEL_Q))  # fmt: skip
    points = {("target", "full"): 0.5, ("target", "q"): 0.5, ("u", "full"): 0.1, ("u", "q"): 0.25}
    paired = PairedMetric("verbmem_f", points, items, samples=200, seed=5, confidence=0.9)

    picks = np.random.default_rng([5, 0]).integers(0, 4, size=(200, 4))  # verbmem_f is metric number 0
    mean = {key: np.array(scores)[picks].mean(axis=1) for key, scores in
            {"tf": TARGET_FULL, "tq": TARGET_Q, "uf": MODEL_FULL, "uq": MODEL_Q}.items()}  # fmt: skip
    retained_q = mean["uq"] / mean["tq"]
    recovery = retained_q - mean["uf"] / mean["tf"]
    retained = paired.retained("u", "q")
    assert retained.value == pytest.approx(0.5)
    assert (retained.ci_low, retained.ci_high) == pytest.approx(tuple(np.percentile(retained_q, [5, 95])))
    estimate = paired.recovery("u", "q")
    assert estimate.value == pytest.approx(0.5 - 0.2)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(tuple(np.percentile(recovery, [5, 95])))
    target = paired.target("q")
    assert (target.ci_low, target.ci_high) == pytest.approx(tuple(np.percentile(mean["tq"], [5, 95])))


def test_a_copy_of_the_target_retains_exactly_all_of_it_on_every_resample():
    scores = {("target", "full"): {0: 0.9, 1: 0.1, 2: 0.5}, ("u", "full"): {0: 0.9, 1: 0.1, 2: 0.5}}
    means = paired_means(scores, "verbmem_f", samples=300, seed=0)
    assert np.array_equal(means[("target", "full")], means[("u", "full")])  # unpaired draws would differ


def test_only_the_items_every_variant_has_are_resampled():
    scores = {("target", "full"): {0: 1.0, 1: 0.0, 7: 5.0}, ("u", "full"): {0: 1.0, 1: 0.0}}
    means = paired_means(scores, "knowmem_f", samples=100, seed=1)
    assert means[("target", "full")].max() <= 1.0


def test_intervals_ignore_resamples_where_the_statistic_is_undefined():
    assert percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == pytest.approx((1.5, 2.5))
    assert percentile_interval(np.array([np.nan]), 0.95) == (None, None)
    assert percentile_interval(None, 0.95) == (None, None)
