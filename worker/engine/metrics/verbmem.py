"""VerbMem (DESIGN 8.1, MUSE M1): how much of each forget passage the model continues verbatim."""

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from worker.engine.generation import complete, complete_sampled, decode
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
        continuations = self.continuations(model, tokenizer, [pair.prompt for pair in pairs], context)
        items = []
        for index, (pair, (outputs, truncated)) in enumerate(zip(pairs, continuations, strict=True)):
            truth = truth_prefix(tokenizer, pair.gt)
            score = sum(rouge_l_f1(truth, output) for output in outputs) / len(outputs)
            items.append(
                context.item(
                    self.name, index, score, output=outputs[0], truth=truth, prompt=pair.prompt, truncated=truncated
                )
            )
        return mean_outcome(self.name, items, context)

    def continuations(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], context: EvalContext
    ) -> list[tuple[list[str], bool]]:
        """Greedy (MUSE, one continuation) or sampled (the paper's evaluation) continuations of each prompt."""
        progress = context.batch_progress(self.name, len(prompts))
        decoding = context.verbmem
        if decoding.decoding == "sampled":
            seed = decoding.seed if decoding.seed is not None else context.seed
            return complete_sampled(model, tokenizer, prompts, VERBMEM_NEW_TOKENS, decoding, seed, progress)
        greedy = complete(model, tokenizer, prompts, VERBMEM_NEW_TOKENS, context.limits.batch_size, progress)
        return [([output], truncated) for output, truncated in greedy]
