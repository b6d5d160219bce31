"""Each loss against a hand computation on a toy batch."""

import math

import pytest
import torch

from worker.engine.unlearning.losses import (
    gradient_ascent_loss,
    kl_to_target,
    masked_mean_squared_error,
    next_token_cross_entropy,
    npo_loss,
    sequence_log_likelihood,
)

# One sequence of 3 tokens over a vocabulary of 2, the last position padded out in the second row.
LOGITS = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, 5.0]], [[0.0, math.log(4.0)], [1.0, 2.0], [3.0, 4.0]]])
IDS = torch.tensor([[1, 1, 0], [0, 1, 0]])
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])
# Row 0 predicts ids[1]=1 with p=1/2, ids[2]=0 with p=3/4; row 1 predicts ids[1]=1 with p=4/5 (ids[2] is padding).
LOG_PROBS = [math.log(1 / 2), math.log(3 / 4), math.log(4 / 5)]


def test_cross_entropy_is_the_mean_over_real_tokens():
    expected = -sum(LOG_PROBS) / 3
    assert next_token_cross_entropy(LOGITS, IDS, MASK).item() == pytest.approx(expected, rel=1e-6)


def test_gradient_ascent_is_minus_cross_entropy():
    assert gradient_ascent_loss(LOGITS, IDS, MASK).item() == pytest.approx(sum(LOG_PROBS) / 3, rel=1e-6)


def test_sequence_log_likelihood_sums_each_sequence_without_padding():
    values = sequence_log_likelihood(LOGITS, IDS, MASK)
    assert values.tolist() == pytest.approx([LOG_PROBS[0] + LOG_PROBS[1], LOG_PROBS[2]], rel=1e-6)


def test_npo_is_two_over_beta_mean_softplus_of_beta_log_ratio():
    model_ll = torch.tensor([-10.0, -3.0])
    target_ll = torch.tensor([-4.0, -5.0])
    beta = 0.1
    expected = (2 / beta) * (math.log1p(math.exp(beta * -6.0)) + math.log1p(math.exp(beta * 2.0))) / 2
    assert npo_loss(model_ll, target_ll, beta).item() == pytest.approx(expected, rel=1e-6)


def test_npo_at_the_target_is_two_over_beta_log_two():
    same = torch.tensor([-7.0, -2.0])
    assert npo_loss(same, same, 0.1).item() == pytest.approx(20 * math.log(2), rel=1e-6)


def test_kl_is_the_kl_of_softmax_distributions_from_target_to_model():
    model_logits = torch.tensor([[[0.0, 0.0], [0.0, math.log(3.0)]]])
    target_logits = torch.tensor([[[math.log(3.0), 0.0], [5.0, 1.0]]])
    mask = torch.tensor([[1, 0]])  # only the first position counts
    p, q = [3 / 4, 1 / 4], [1 / 2, 1 / 2]
    expected = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    assert kl_to_target(model_logits, target_logits, mask).item() == pytest.approx(expected, rel=1e-6)
    assert kl_to_target(target_logits, target_logits, torch.ones(1, 2)).item() == pytest.approx(0.0, abs=1e-7)


def test_rmu_mse_to_the_steered_direction_over_real_tokens():
    activations = torch.tensor([[[1.0, 2.0], [9.0, 9.0]]])
    control = torch.tensor([3.0, 0.0])
    mask = torch.tensor([[1, 0]])
    assert masked_mean_squared_error(activations, control, mask).item() == pytest.approx((4 + 4) / 2)
