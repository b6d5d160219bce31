"""ROUGE-L F1 exactly as MUSE scores it: the `rouge-score` package, no stemmer, truth first."""

from functools import cache

from rouge_score.rouge_scorer import RougeScorer


@cache
def _scorer() -> RougeScorer:
    return RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l_f1(truth: str, output: str) -> float:
    """ROUGE-L F-measure of `output` against the reference `truth` (symmetric, but MUSE's argument order)."""
    return _scorer().score(truth, output)["rougeL"].fmeasure
