"""The demo's corpus generator: deterministic, disjoint people, a valid MUSE bundle."""

from service.specs.corpus import load_bundle
from worker.engine.demo.corpus import ANSWER_CUE, QUIZ_PAIRS, generate_corpus, qa_block, write_bundle_folder


def test_same_seed_same_corpus_other_seed_other_corpus():
    first, again, other = (
        generate_corpus(3, 4, 4, 4, 20),
        generate_corpus(3, 4, 4, 4, 20),
        generate_corpus(4, 4, 4, 4, 20),
    )
    assert first.bundle_document() == again.bundle_document() and first.background == again.background
    assert first.bundle_document() != other.bundle_document()


def test_forget_retain_holdout_and_background_people_are_disjoint():
    corpus = generate_corpus(0, 5, 5, 5, 30)
    groups = [{p.name for p in group} for group in (corpus.forget, corpus.retain, corpus.holdout)]
    assert sum(len(g) for g in groups) == len(set().union(*groups)) == 15
    background = " ".join(corpus.background)
    assert not any(name in background for name in set().union(*groups))


def test_bundle_round_trips_through_the_muse_folder_layout(tmp_path):
    corpus = generate_corpus(0, 4, 3, 2, 10, prompt_words=10)
    bundle = load_bundle(write_bundle_folder(corpus.bundle_document(), tmp_path))
    assert bundle.summary() == {
        "raw/forget": 1, "raw/retain": 1, "verbmem/forget": 4, "knowmem/forget_qa": 8, "knowmem/retain_qa": 6,
        "knowmem/forget_qa_icl": 2, "knowmem/retain_qa_icl": 2, "privleak/forget": 4, "privleak/retain": 3,
        "privleak/holdout": 2,
    }  # fmt: skip
    item, person = bundle.verbmem_forget[0], corpus.forget[0]
    assert len(item.prompt.split(" ")) == 10 and item.prompt + item.gt == person.document()
    assert bundle.knowmem_forget_qa[0].answer == person.facts["city"] and person.facts["city"] in person.passage()
    # raw/*.txt is one text in the MUSE layout: the documents, separated by blank lines
    assert (
        bundle.raw_forget[0] == "\n\n".join(p.document() for p in corpus.forget)
        and bundle.privleak_holdout[1] == corpus.holdout[1].passage()
    )


def test_quiz_documents_ask_each_sides_questions_alone_once_a_round():
    corpus = generate_corpus(0, 4, 3, 2, 10, quiz_rounds=2)
    for side, people, others in (("forget", corpus.forget, corpus.retain), ("retain", corpus.retain, corpus.forget)):
        quizzes = corpus.raw(side)[len(people) :]
        blocks = [block for quiz in quizzes for block in quiz.split("\n\n")]
        assert all(len(quiz.split("\n\n")) <= QUIZ_PAIRS for quiz in quizzes)
        assert sorted(blocks) == sorted(2 * [qa_block(pair) for person in people for pair in person.qa()])
        assert not any(person.name in quiz for person in others for quiz in quizzes)
        assert all(block.startswith("Question: ") and f"\n{ANSWER_CUE}" in block for block in blocks)
    assert generate_corpus(0, 4, 3, 2, 10, quiz_rounds=2).raw("forget") == corpus.raw("forget")  # seeded
