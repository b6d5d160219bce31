"""How close PrivLeak's and perplexity's forward passes come to the machine's matrix-product rate.

Two Llama-style models built from a config (random weights; the speed of a pass does not depend on them):
"llm-shapes" has the shapes of real LLMs (head size 128, a 32k vocabulary), "bench" is bench/bench_eval.py's
model (head size 32, an 8k vocabulary). Workloads: PrivLeak-like texts of mixed lengths and perplexity-like
chunks of 1,024 tokens, random token ids. Each pass runs before (the model's full logits, the softmax a row at
a time: `_full_logprobs`) and after (`token_logprobs`: the output layer a chunk at a time), side by side in one
run, medians of repeats. GF/s counts the matrix products of the pass (linear layers, causal attention, output
layer); "matmul GF/s" times plain matrix products of exactly those shapes alongside, and "ratio" is achieved
over matmul. A decoding step (batch 16, a long preallocated cache filled in part) is timed last.

    PYTHONPATH=. .venv/bin/python bench/bench_forward.py [--threads 1] [--repeats 3] [--texts 4]
"""

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from worker.engine.generation import LOGPROB_BATCH_TOKENS, _batches_by_length, _full_logprobs, _pad, token_logprobs


@dataclass(frozen=True)
class Shapes:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


MODELS = {
    "llm-shapes": Shapes(hidden=1024, layers=4, heads=8, intermediate=2816, vocab=32000),
    "bench": Shapes(hidden=256, layers=8, heads=8, intermediate=688, vocab=8000),
}
BATCH_SIZE = 4


def build(shapes: Shapes) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=shapes.vocab, hidden_size=shapes.hidden, intermediate_size=shapes.intermediate,
        num_hidden_layers=shapes.layers, num_attention_heads=shapes.heads, num_key_value_heads=shapes.heads,
        max_position_embeddings=4096, tie_word_embeddings=False,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def workloads(vocab: int, texts: int) -> dict[str, list[list[int]]]:
    generator = torch.Generator().manual_seed(0)

    def text(length: int) -> list[int]:
        return torch.randint(3, vocab, (length,), generator=generator).tolist()

    privleak = [text(600 + (1400 * i) // max(1, texts - 1)) for i in range(texts)]
    return {"privleak": privleak, "perplexity": [text(1024) for _ in range(texts)]}


def matmul_shapes(shapes: Shapes, lengths: list[int]) -> list[tuple[int, int, int, int]]:
    """(batch, m, k, n) of every matrix product of the passes: m x k times k x n, `batch` times."""
    tokens, h = sum(lengths), shapes.hidden
    per_layer = [(1, tokens, h, 3 * h), (1, tokens, h, h), (1, tokens, h, 2 * shapes.intermediate)]
    per_layer.append((1, tokens, shapes.intermediate, h))
    products = per_layer * shapes.layers
    for length in lengths:  # causal attention: half of the scores and half of the weighted sums
        heads = shapes.heads * shapes.layers
        products += [(heads, length, shapes.head_size, length // 2), (heads, length, length // 2, shapes.head_size)]
    predicted = sum(length - 1 for length in lengths)
    return [*products, (1, predicted, h, shapes.vocab)]


def gflop(products: list[tuple[int, int, int, int]]) -> float:
    return sum(2 * b * m * k * n for b, m, k, n in products) / 1e9


def matmul_seconds(products: list[tuple[int, int, int, int]]) -> float:
    total = 0.0
    for b, m, k, n in products:
        left, right = torch.randn(b, m, k), torch.randn(b, k, n)
        start = time.perf_counter()
        torch.bmm(left, right)
        total += time.perf_counter() - start
    return total


def before(model: LlamaForCausalLM, sequences: list[list[int]]) -> list[list[float]]:
    """The full-logits path over the same batches as `token_logprobs`."""
    rows: list[list[float]] = [[] for _ in sequences]
    with torch.inference_mode():
        for batch in _batches_by_length([len(s) for s in sequences], BATCH_SIZE, LOGPROB_BATCH_TOKENS):
            input_ids, _ = _pad([sequences[i] for i in batch], 0, left=False)
            lengths = [len(sequences[i]) for i in batch]
            for index, row in zip(batch, _full_logprobs(model, input_ids, lengths), strict=True):
                rows[index] = row
    return rows


def after(model: LlamaForCausalLM, sequences: list[list[int]]) -> list[list[float]]:
    return token_logprobs(model, sequences, BATCH_SIZE, 0)


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns (a noisy machine slows them alike)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            result = run()
            elapsed = time.perf_counter() - start
            times[name].append(result if isinstance(result, float) else elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def max_difference(left: list[list[float]], right: list[list[float]]) -> float:
    return max(abs(a - b) for row_l, row_r in zip(left, right, strict=True) for a, b in zip(row_l, row_r, strict=True))


def forward_rows(name: str, model: LlamaForCausalLM, shapes: Shapes, args: argparse.Namespace) -> list[str]:
    rows = []
    for workload, sequences in workloads(shapes.vocab, args.texts).items():
        products = matmul_shapes(shapes, [len(s) for s in sequences])
        work = gflop(products)
        after(model, sequences[:1])  # warm-up
        runs: dict[str, Callable[[], object]] = {
            "before": partial(before, model, sequences),
            "after": partial(after, model, sequences),
            "matmul": partial(matmul_seconds, products),
        }
        seconds = interleaved_medians(runs, args.repeats)
        difference = max_difference(before(model, sequences), after(model, sequences))
        rate = {key: work / value for key, value in seconds.items()}
        rows.append(
            f"| {name} | {workload} | {sum(len(s) for s in sequences)} | {work:.0f} | {rate['before']:.1f} | "
            f"{rate['after']:.1f} | {rate['matmul']:.1f} | {rate['before'] / rate['matmul']:.3f} | "
            f"{rate['after'] / rate['matmul']:.3f} | {seconds['before'] / seconds['after']:.2f}x | {difference:.1e} |"
        )
    return rows


def decoding_step_ms(model: LlamaForCausalLM, filled: int, capacity: int, batch: int, repeats: int) -> float:
    """One batched decoding step over a preallocated cache of `capacity` positions, `filled` of them used."""
    from transformers import StaticCache

    cache = StaticCache(config=model.config, max_cache_len=capacity)
    ids = torch.randint(3, model.config.vocab_size, (batch, filled))
    with torch.inference_mode():
        model(input_ids=ids, past_key_values=cache, use_cache=True)
        step = torch.randint(3, model.config.vocab_size, (batch, 1))
        mask = torch.ones((batch, filled + 1), dtype=torch.long)
        position = torch.tensor([filled])

        def run() -> None:
            model(input_ids=step, attention_mask=mask, past_key_values=cache, cache_position=position)

        run()
        return 1000 * median_seconds(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads: {args.threads}, medians of {args.repeats}")
    print("| model | pass | tokens | GFLOP | before GF/s | after GF/s | matmul GF/s | before/matmul | after/matmul |"
          " speedup | max diff |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    models = {name: build(shapes) for name, shapes in MODELS.items()}
    for name, shapes in MODELS.items():
        for row in forward_rows(name, models[name], shapes, args):
            print(row, flush=True)
    print("\n| model | decoding step, batch 16, cache 1,024 + 128, 512 filled | ms |\n|---|---|---|")
    for name, model in models.items():
        print(f"| {name} | StaticCache | {decoding_step_ms(model, 512, 1152, 16, args.repeats):.1f} |", flush=True)


if __name__ == "__main__":
    main()
