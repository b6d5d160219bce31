"""Min-K% scores, the ROC AUC and PrivLeak against hand computation."""

import numpy as np
import pytest

from worker.engine.metrics.privleak import min_k_score, privleak_percent, roc_auc


def test_min_40_percent_by_hand():
    # 5 predicted tokens: int(0.4 * 5) = 2 lowest are -5 and -3
    assert min_k_score([-1.0, -5.0, -2.0, -0.5, -3.0]) == pytest.approx(4.0)
    # 4 predicted tokens: int(1.6) = 1 lowest
    assert min_k_score([-0.2, -0.1, -7.0, -1.0]) == pytest.approx(7.0)
    # 10 tokens: 4 lowest
    assert min_k_score([-float(i) for i in range(10)]) == pytest.approx((9 + 8 + 7 + 6) / 4)


def test_min_k_of_one_or_two_tokens_takes_the_lowest_and_refuses_none():
    assert min_k_score([-2.0, -1.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least one predicted token"):
        min_k_score([])


def test_auc_by_hand_with_a_tie():
    negatives, positives = [0.1, 0.4, 0.35, 0.8], [0.2, 0.4, 0.9]
    # pairs ranked right: 0.2 beats 1; 0.4 beats 2 and ties 1 (0.5); 0.9 beats 4 -> 7.5 of 12
    assert roc_auc(negatives, positives) == pytest.approx(7.5 / 12)


def test_auc_extremes_and_all_ties():
    assert roc_auc([1.0, 2.0], [3.0, 4.0, 5.0]) == 1.0
    assert roc_auc([3.0, 4.0], [1.0, 2.0]) == 0.0
    assert roc_auc([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.5
    with pytest.raises(ValueError, match="one text of each label"):
        roc_auc([], [1.0])


def test_auc_equals_the_trapezoidal_area_under_the_roc_curve():
    rng = np.random.default_rng(0)
    negatives, positives = rng.integers(0, 6, 40).astype(float), rng.integers(2, 8, 30).astype(float)
    thresholds = np.sort(np.unique(np.concatenate([negatives, positives])))[::-1]
    tpr = [0.0] + [float((positives >= t).mean()) for t in thresholds]
    fpr = [0.0] + [float((negatives >= t).mean()) for t in thresholds]
    trapezoid = sum((fpr[i + 1] - fpr[i]) * (tpr[i + 1] + tpr[i]) / 2 for i in range(len(fpr) - 1))
    assert roc_auc(negatives, positives) == pytest.approx(trapezoid)


def test_privleak_percent_is_relative_to_the_reference_auc():
    assert privleak_percent(0.25, 0.5) == pytest.approx(-50.0)
    assert privleak_percent(0.4772, 0.4772) == 0.0
    assert privleak_percent(0.6, 0.4772) == pytest.approx((0.6 - 0.4772) / 0.4772 * 100)
