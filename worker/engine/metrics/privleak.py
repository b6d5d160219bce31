"""PrivLeak (DESIGN 8.3, MUSE M3): can forget texts be told from unseen holdout texts by Min-40% log-prob?"""

from collections.abc import Sequence

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from service.specs.reference import DEFAULT_REFERENCE_AUC
from service.specs.report import ItemRecord
from worker.engine.generation import EncodedText, encode_texts, token_logprobs
from worker.engine.metrics.base import EvalContext, Metric, MetricOutcome, metric_result
from worker.engine.metrics.bootstrap import two_sample_interval
from worker.engine.models import context_length

MIN_K_RATIO = 0.4
FORGET_LABEL, HOLDOUT_LABEL = 0, 1


def min_k_score(log_probs: Sequence[float], ratio: float = MIN_K_RATIO) -> float:
    """Minus the mean of the lowest int(ratio * n) token log-probs (at least one; MUSE would give NaN)."""
    if not log_probs:
        raise ValueError("Min-K% needs at least one predicted token (a text of two tokens or more)")
    lowest = np.sort(np.asarray(log_probs, dtype=np.float64))[: max(1, int(len(log_probs) * ratio))]
    return float(-lowest.mean())


def roc_auc(negatives: Sequence[float] | np.ndarray, positives: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve of a predictor that should rank positives above negatives.

    The Mann-Whitney statistic: the share of (positive, negative) pairs ranked right, ties counting half,
    which equals the trapezoidal area under the ROC curve (sklearn's roc_curve + auc).
    """
    if len(negatives) == 0 or len(positives) == 0:
        raise ValueError("the AUC needs at least one text of each label")
    values = np.concatenate([np.asarray(negatives, np.float64), np.asarray(positives, np.float64)])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    boundaries: np.ndarray = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(values)]])
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2  # average 1-based rank of a tied group
    positive_rank_sum = ranks[len(negatives) :].sum()
    n_positive, n_negative = len(positives), len(negatives)
    return float((positive_rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def privleak_percent(auc: float, reference_auc: float) -> float:
    return (auc - reference_auc) / reference_auc * 100


class PrivLeak(Metric):
    name = "privleak"

    def compute(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        corpus: CorpusBundle,
        context: EvalContext,
    ) -> MetricOutcome:
        forget = context.first_items(corpus.privleak_forget or [])
        holdout = context.first_items(corpus.privleak_holdout or [])
        encoded = encode_texts(tokenizer, forget + holdout, context_length(model))
        log_probs = token_logprobs(
            model,
            [text.ids for text in encoded],
            context.limits.batch_size,
            tokenizer.pad_token_id,
            context.batch_progress(self.name, len(encoded)),
        )
        scores = [min_k_score(row) for row in log_probs]
        items = self._items(context, forget, encoded, scores)
        # the predictor is minus the score: a higher Min-K log-prob says "seen", i.e. the forget label 0
        forget_predictor = [-s for s in scores[: len(forget)]]
        holdout_predictor = [-s for s in scores[len(forget) :]]
        reference_auc = context.reference_auc or DEFAULT_REFERENCE_AUC
        auc = roc_auc(forget_predictor, holdout_predictor)
        interval = two_sample_interval(
            forget_predictor,
            holdout_predictor,
            lambda f, h: privleak_percent(roc_auc(f, h), reference_auc),
            context.limits.bootstrap_samples,
            context.seed,
        )
        extra: dict[str, float | None] = {"auc": auc, "auc_ref": reference_auc}
        value = privleak_percent(auc, reference_auc)
        return MetricOutcome(metric_result(self.name, value, interval, items, extra=extra), items)

    def _items(
        self, context: EvalContext, forget: list[str], encoded: list[EncodedText], scores: list[float]
    ) -> list[ItemRecord]:
        """One item per text, forget first then holdout, numbered in that order, each with its label."""
        items = []
        for index, (text, score) in enumerate(zip(encoded, scores, strict=True)):
            label = FORGET_LABEL if index < len(forget) else HOLDOUT_LABEL
            items.append(context.item(self.name, index, score, truncated=text.truncated, label=label))
        return items
