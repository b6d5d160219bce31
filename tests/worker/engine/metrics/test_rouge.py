"""ROUGE-L F1 against hand computation and against MUSE's own call of the rouge-score package."""

import pytest
from rouge_score.rouge_scorer import RougeScorer

from worker.engine.metrics.rouge import rouge_l_f1

PAIRS = [
    ("the cat sat on the mat", "the cat on the mat"),
    ("Paris", "Paris, France"),
    ("1472", "It was 1472."),
    ("running fast", "run fast"),
    ("£55,000", "55,000 pounds"),
    ("nothing in common", "zebra"),
]


def test_rouge_l_f1_by_hand():
    # LCS "the cat on the mat" = 5 tokens; precision 5/5, recall 5/6
    assert rouge_l_f1("the cat sat on the mat", "the cat on the mat") == pytest.approx(2 * (5 / 6) / (1 + 5 / 6))
    # no stemmer: "running" and "run" differ, LCS = "fast"; precision 1/2, recall 1/2
    assert rouge_l_f1("running fast", "run fast") == pytest.approx(0.5)
    assert rouge_l_f1("nothing in common", "zebra") == 0.0
    assert rouge_l_f1("Paris", "") == 0.0


@pytest.mark.parametrize(("truth", "output"), PAIRS)
def test_matches_muses_scorer_call(truth, output):
    muse_scorer = RougeScorer(rouge_types=["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)
    assert rouge_l_f1(truth, output) == muse_scorer.score(truth, output)["rougeL"].fmeasure
