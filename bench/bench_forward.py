"""How close PrivLeak's and perplexity's forward passes come to the machine's matrix-product rate.

Two Llama-style models built from a config (random weights; the speed of a pass does not depend on them):
"llm-shapes" has the shapes of real LLMs (head size 128, a 32k vocabulary), "bench" is bench/bench_eval.py's
model (head size 32, an 8k vocabulary). Workloads: PrivLeak-like texts of mixed lengths and perplexity-like
chunks of 1,024 tokens, random token ids. Each pass runs before (the model's full logits, the softmax a row at
a time: `_full_logprobs`, in batches of mixed lengths up to LOGPROB_BATCH_TOKENS, padding included) and after
(`token_logprobs`: the output layer a chunk at a time, rows batched only with rows of nearly their length), side
by side in one run, medians of repeats. GF/s counts the matrix products of the pass (linear layers, causal
attention, output layer); "matmul GF/s" times plain matrix products of exactly those shapes alongside, and
"ratio" is achieved over matmul. A decoding step is timed last: at batch 16 over transformers' preallocated
cache and over the one read up to its filled length, at batch 1 over a growing cache and over the preallocated
one.

    PYTHONPATH=. .venv/bin/python bench/bench_forward.py [--threads 1] [--repeats 3] [--texts 4]
"""

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from transformers import Cache, DynamicCache, LlamaConfig, LlamaForCausalLM, StaticCache

from worker.engine.generation import LOGPROB_BATCH_TOKENS, _batches_by_length, _full_logprobs, _pad, token_logprobs
from worker.engine.kv_cache import FilledCache


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
DECODE_FILLED, DECODE_ROOM = 1024, 128  # a long prompt, room for VerbMem's 128 new tokens


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
    """The full-logits path over batches of mixed lengths (what `token_logprobs` ran before its rows were batched
    only with rows of nearly their length)."""
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


def decoding_step_ms(model: LlamaForCausalLM, cache: Cache, filled: int, batch: int, repeats: int) -> float:
    """One decoding step over `filled` cached positions (random keys and values: no prefill needed); the cache is
    cut back to `filled` after each step."""
    config = model.config
    shape = (batch, config.num_key_value_heads, filled, config.hidden_size // config.num_attention_heads)
    with torch.inference_mode():
        for layer in range(config.num_hidden_layers):
            cache.update(torch.randn(shape), torch.randn(shape), layer)
        step = torch.randint(3, config.vocab_size, (batch, 1))
        mask = torch.ones((batch, filled + 1), dtype=torch.long)
        position = torch.tensor([filled])

        def run() -> None:
            model(input_ids=step, attention_mask=mask, past_key_values=cache, cache_position=position)
            if isinstance(cache, DynamicCache):
                cache.crop(-1)  # the step's token
            else:
                for layer in cache.layers:
                    layer.cumulative_length.fill_(filled)

        run()
        return 1000 * median_seconds(run, repeats)


def decoding_rows(models: dict[str, LlamaForCausalLM], repeats: int) -> list[str]:
    """Batch 16: transformers' static cache (before) against the filled-length one; batch 1: a growing cache
    (before) against the preallocated one."""
    rows = []
    for name, model in models.items():
        capacity = DECODE_FILLED + DECODE_ROOM
        cases = {
            "16: StaticCache / FilledCache": (16, StaticCache(config=model.config, max_cache_len=capacity)),
            "1: DynamicCache / FilledCache": (1, DynamicCache()),
        }
        for label, (batch, before_cache) in cases.items():
            before_ms = decoding_step_ms(model, before_cache, DECODE_FILLED, batch, repeats)
            after_ms = decoding_step_ms(model, FilledCache(model.config, capacity), DECODE_FILLED, batch, repeats)
            rows.append(f"| {name} | {label} | {before_ms:.1f} | {after_ms:.1f} | {before_ms / after_ms:.2f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=4)
    parser.add_argument("--decoding-only", action="store_true", help="only the decoding-step table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads: {args.threads}, medians of {args.repeats}")
    models = {name: build(shapes) for name, shapes in MODELS.items()}
    if not args.decoding_only:
        forward_table(models, args)
    print_decoding_table(models, args.repeats)


def forward_table(models: dict[str, LlamaForCausalLM], args: argparse.Namespace) -> None:
    print("| model | pass | tokens | GFLOP | before GF/s | after GF/s | matmul GF/s | before/matmul | after/matmul |"
          " speedup | max diff |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, shapes in MODELS.items():
        for row in forward_rows(name, models[name], shapes, args):
            print(row, flush=True)


def print_decoding_table(models: dict[str, LlamaForCausalLM], repeats: int) -> None:
    filled = f"{DECODE_FILLED} of {DECODE_FILLED + DECODE_ROOM} filled"
    print(f"\n| model | decoding step at batch: before / after ({filled}) | before ms | after ms | speedup |")
    print("|---|---|---|---|---|")
    for row in decoding_rows(models, repeats):
        print(row, flush=True)


if __name__ == "__main__":
    main()
