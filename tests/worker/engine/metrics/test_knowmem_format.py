"""The KnowMem prompt (in-context examples, then the question) and where an answer is cut."""

import pytest

from service.specs.corpus import QAItem
from worker.engine.metrics.knowmem import cut_answer, icl_prefix, question_prompt


def test_prompt_with_in_context_examples():
    examples = [QAItem(question="Who wrote it?", answer="Ann"), QAItem(question="When?", answer="1999")]
    prompt = question_prompt(icl_prefix(examples), "Where?")
    assert prompt == (
        "Question: Who wrote it?\nAnswer: Ann\n\nQuestion: When?\nAnswer: 1999\n\nQuestion: Where?\nAnswer: "
    )


def test_zero_shot_prompt():
    assert question_prompt(icl_prefix([]), "Where?") == "Question: Where?\nAnswer: "


@pytest.mark.parametrize(
    ("output", "answer"),
    [
        ("Paris\n\nQuestion: next", "Paris"),
        ("Paris\nQuestion: next", "Paris"),
        ("Paris Question: next", "Paris "),
        ("Paris\nFrance", "Paris\nFrance"),
        ("Rome\nQuestion: a\n\nb", "Rome"),
        ("no stop at all", "no stop at all"),
        ("\n\nParis", ""),
    ],
)
def test_answer_is_cut_before_the_first_stop(output, answer):
    assert cut_answer(output) == answer
