"""The losses of DESIGN 9, on batches of fixed-length token chunks (padding masked out).

All functions take logits [batch, length, vocab] and the ids/mask the logits were computed from; the
prediction at position t is scored against the token at t + 1.
"""

import torch
import torch.nn.functional as F


def shifted_token_log_probs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """log p(x_{t+1} | x_{<=t}) for t = 0 .. T-2, shape [batch, T-1], computed in fp32."""
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)
    return log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def next_token_cross_entropy(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the real (unpadded) predicted tokens of the batch."""
    token_mask = mask[:, 1:].float()
    return -(shifted_token_log_probs(logits, input_ids) * token_mask).sum() / token_mask.sum()


def sequence_log_likelihood(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(x) of each chunk: the sum of its tokens' log-probabilities, shape [batch]."""
    return (shifted_token_log_probs(logits, input_ids) * mask[:, 1:].float()).sum(dim=-1)


def gradient_ascent_loss(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """GA: minimising minus the cross-entropy pushes the forget text's likelihood down."""
    return -next_token_cross_entropy(logits, input_ids, mask)


def npo_loss(model_log_likelihood: torch.Tensor, target_log_likelihood: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO: (2 / beta) * mean softplus(beta * (log p_model(x) - log p_target(x))) over the chunks."""
    log_ratio = model_log_likelihood - target_log_likelihood
    return (2.0 / beta) * F.softplus(beta * log_ratio).mean()


def kl_to_target(model_logits: torch.Tensor, target_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KLR: KL(p_target || p_model) of the next-token distributions, averaged over real tokens."""
    model_log_probs = F.log_softmax(model_logits.float(), dim=-1)
    target_log_probs = F.log_softmax(target_logits.float(), dim=-1)
    per_token = (target_log_probs.exp() * (target_log_probs - model_log_probs)).sum(dim=-1)
    token_mask = mask.float()
    return (per_token * token_mask).sum() / token_mask.sum()


def masked_mean_squared_error(activations: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RMU: mean over real tokens of the mean squared distance of each activation to the reference.

    The reference is the control vector (forget term, broadcast over tokens) or the target's activations
    (retain term).
    """
    per_token = ((activations.float() - reference.float()) ** 2).mean(dim=-1)
    token_mask = mask.float()
    return (per_token * token_mask).sum() / token_mask.sum()
