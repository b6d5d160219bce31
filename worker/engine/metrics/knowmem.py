"""KnowMem (DESIGN 8.2, MUSE M2 on forget, M4 on retain): answers to questions about the corpus."""

from collections.abc import Sequence

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle, QAItem
from worker.engine.generation import complete
from worker.engine.metrics.base import EvalContext, Metric, MetricOutcome, mean_outcome
from worker.engine.metrics.perplexity import retain_perplexity
from worker.engine.metrics.rouge import rouge_l_f1

KNOWMEM_NEW_TOKENS = 32
ANSWER_STOPS = ("\n\n", "\nQuestion", "Question:")


def icl_prefix(examples: Sequence[QAItem]) -> str:
    return "".join(f"Question: {example.question}\nAnswer: {example.answer}\n\n" for example in examples)


def question_prompt(prefix: str, question: str) -> str:
    return f"{prefix}Question: {question}\nAnswer: "


def cut_answer(output: str) -> str:
    """The generated text before the first stop marker (MUSE cuts at each marker in turn)."""
    for stop in ANSWER_STOPS:
        output = output.split(stop)[0]
    return output


class KnowMem(Metric):
    """Shared by forget and retain: which bundle parts hold the questions and the in-context examples."""

    questions_part: str
    examples_part: str

    def compute(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        corpus: CorpusBundle,
        context: EvalContext,
    ) -> MetricOutcome:
        questions: list[QAItem] = context.first_items(corpus.part(self.questions_part) or [])
        examples: list[QAItem] = corpus.part(self.examples_part) or []
        prefix = icl_prefix(examples)
        prompts = [question_prompt(prefix, qa.question) for qa in questions]
        continuations = complete(
            model,
            tokenizer,
            prompts,
            KNOWMEM_NEW_TOKENS,
            context.limits.batch_size,
            context.batch_progress(self.name, len(questions)),
        )
        items = []
        for index, (qa, (output, truncated)) in enumerate(zip(questions, continuations, strict=True)):
            answer = cut_answer(output)
            score = rouge_l_f1(qa.answer, answer)
            items.append(
                context.item(
                    self.name, index, score, output=answer, truth=qa.answer, prompt=qa.question, truncated=truncated
                )
            )
        note = None if examples else f"zero-shot: the bundle has no {self.examples_part}"
        extra = {"icl_examples": float(len(examples)), **self.extra(model, tokenizer, corpus, context)}
        return mean_outcome(self.name, items, context, extra=extra, note=note)

    def extra(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, corpus: CorpusBundle, context: EvalContext
    ) -> dict[str, float | None]:
        return {}


class KnowMemForget(KnowMem):
    name = "knowmem_f"
    questions_part = "knowmem/forget_qa"
    examples_part = "knowmem/forget_qa_icl"


class KnowMemRetain(KnowMem):
    name = "knowmem_r"
    questions_part = "knowmem/retain_qa"
    examples_part = "knowmem/retain_qa_icl"

    def extra(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, corpus: CorpusBundle, context: EvalContext
    ) -> dict[str, float | None]:
        """Perplexity on retain text, the utility signal reported beside M4."""
        return {"retain_perplexity": retain_perplexity(model, tokenizer, corpus, context)}
