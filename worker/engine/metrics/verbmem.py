"""VerbMem (DESIGN 8.1, MUSE M1): how much of each forget passage the model continues verbatim."""

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from worker.engine.generation import complete, decode
from worker.engine.metrics.base import EvalContext, Metric, MetricOutcome, mean_outcome
from worker.engine.metrics.rouge import rouge_l_f1

VERBMEM_NEW_TOKENS = 128


def truth_prefix(tokenizer: PreTrainedTokenizerBase, truth: str, max_tokens: int = VERBMEM_NEW_TOKENS) -> str:
    """The ground truth cut as MUSE cuts it: its first `max_tokens` ids, BOS included, decoded."""
    return decode(tokenizer, tokenizer(truth, add_special_tokens=True)["input_ids"][:max_tokens])


class VerbMem(Metric):
    name = "verbmem_f"

    def compute(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        corpus: CorpusBundle,
        context: EvalContext,
    ) -> MetricOutcome:
        pairs = context.first_items(corpus.verbmem_forget or [])
        continuations = complete(
            model,
            tokenizer,
            [pair.prompt for pair in pairs],
            VERBMEM_NEW_TOKENS,
            context.limits.batch_size,
            context.batch_progress(self.name, len(pairs)),
        )
        items = []
        for index, (pair, (output, truncated)) in enumerate(zip(pairs, continuations, strict=True)):
            truth = truth_prefix(tokenizer, pair.gt)
            score = rouge_l_f1(truth, output)
            items.append(
                context.item(
                    self.name, index, score, output=output, truth=truth, prompt=pair.prompt, truncated=truncated
                )
            )
        return mean_outcome(self.name, items, context)
