"""Batched evaluation against one-item-at-a-time evaluation (MUSE's way: batch 1, no padding), per metric.

A ~10M-parameter Llama-style model is built from a config, with a BPE tokenizer trained on the MUSE text, and
trained for a few steps so that its greedy choices are not coin flips between near-equal logits. Both modes
run in this process on the first N items of each MUSE-News evaluation set; the table shows the median time
of each, the speedup, and whether the numbers (values and per-item outputs) are equal. Batched mode also
runs KnowMem's shared in-context prefix once. Torch runs on one thread by default: on a CPU shared with
other jobs, more threads than free cores slows every op down several times (measured: 7x per step).

    .venv/bin/python bench/bench_eval.py [--data /work/shared/data/muse-news] [--items 32] [--repeats 1]
"""

import argparse
import math
import random
import statistics
import time
from pathlib import Path

import torch

from service.specs.audit import Limits
from service.specs.corpus import CorpusBundle, load_bundle
from worker.engine.generation import encode_prompts, prompt_room
from worker.engine.metrics import evaluate
from worker.engine.metrics.base import EvalContext, MetricOutcome
from worker.engine.metrics.verbmem import VERBMEM_NEW_TOKENS
from worker.engine.tiny import TinyModelConfig, build_model, token_chunks, train_causal_lm, train_tokenizer

METRIC_NAMES = ["verbmem_f", "knowmem_f", "knowmem_r", "privleak"]
MODEL_CONFIG = TinyModelConfig(
    hidden_size=256, layers=8, heads=8, intermediate_size=688, max_positions=4096, vocab_size=8000
)
TRAIN_DOCUMENTS = 400
LOGPROB_TOLERANCE = 1e-4  # Min-K scores from padded and unpadded passes differ by float rounding only


def build_bench_model(bundle: CorpusBundle, train_steps: int, seed: int):
    documents = [doc for doc in "\n\n".join(bundle.raw_forget or []).split("\n\n") if doc.strip()]
    documents = documents[:TRAIN_DOCUMENTS]
    tokenizer = train_tokenizer(documents, vocab_size=MODEL_CONFIG.vocab_size)
    model = build_model(tokenizer, MODEL_CONFIG, seed=seed)
    chunks = token_chunks(tokenizer, documents, length=128, add_eos=False)
    random.Random(seed).shuffle(chunks)
    if train_steps:
        train_causal_lm(model, chunks, train_steps, 3e-3, 16, tokenizer.pad_token_id, seed=seed)
    return model.eval(), tokenizer


def timed_run(model, tokenizer, bundle: CorpusBundle, metric: str, limits: Limits) -> tuple[float, MetricOutcome]:
    start = time.perf_counter()
    context = EvalContext(limits, seed=0, model_name="bench", precision_label="full")
    outcome = evaluate(model, tokenizer, bundle, [metric], context)[metric]
    return time.perf_counter() - start, outcome


def prompt_floor(model, tokenizer, bundle: CorpusBundle, items: int) -> float:
    """Seconds of one forward pass per VerbMem prompt, alone: work that no batching removes (the prefill)."""
    prompts = [pair.prompt for pair in (bundle.verbmem_forget or [])[:items]]
    encoded = encode_prompts(tokenizer, prompts, prompt_room(model, VERBMEM_NEW_TOKENS))
    start = time.perf_counter()
    with torch.inference_mode():
        for prompt in encoded:
            model(input_ids=torch.tensor([prompt.ids]), logits_to_keep=1)
    return time.perf_counter() - start


def same_numbers(batched: MetricOutcome, sequential: MetricOutcome) -> bool:
    """Equal generated texts, item scores (log-prob scores up to float rounding), value and extras."""
    score_tolerance = LOGPROB_TOLERANCE if "auc" in batched.result.extra else 0.0
    items_equal = all(
        b.output == s.output and abs(b.score - s.score) <= score_tolerance
        for b, s in zip(batched.items, sequential.items, strict=True)
    )
    extras_equal = batched.result.extra.keys() == sequential.result.extra.keys() and all(
        math.isclose(batched.result.extra[key], sequential.result.extra[key], rel_tol=1e-6)
        for key in batched.result.extra
    )
    return items_equal and extras_equal and batched.result.value == sequential.result.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/muse-news"))
    parser.add_argument("--items", type=int, default=32, help="first N items of each evaluation set")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metrics", nargs="+", default=METRIC_NAMES, choices=METRIC_NAMES)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 suits a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bundle = load_bundle(args.data)
    model, tokenizer = build_bench_model(bundle, args.train_steps, args.seed)
    n_parameters = sum(p.numel() for p in model.parameters())
    print(
        f"model: {n_parameters / 1e6:.1f}M parameters, torch threads {torch.get_num_threads()}, "
        f"{args.items} items per set, batch size {args.batch_size}, {args.repeats} repeat(s)"
    )
    batched_limits = Limits(max_items=args.items, batch_size=args.batch_size, bootstrap_samples=0)
    sequential_limits = Limits(max_items=args.items, batch_size=1, bootstrap_samples=0)

    print(f"{'metric':<11} {'one-at-a-time s':>16} {'batched s':>10} {'speedup':>8}  equal  value", flush=True)
    totals = [0.0, 0.0]
    for metric in args.metrics:
        sequential_times, batched_times = [], []
        for _ in range(args.repeats):
            seconds, sequential = timed_run(model, tokenizer, bundle, metric, sequential_limits)
            sequential_times.append(seconds)
            seconds, batched = timed_run(model, tokenizer, bundle, metric, batched_limits)
            batched_times.append(seconds)
        sequential_s, batched_s = statistics.median(sequential_times), statistics.median(batched_times)
        totals[0] += sequential_s
        totals[1] += batched_s
        equal = "yes" if same_numbers(batched, sequential) else "NO"
        print(
            f"{metric:<11} {sequential_s:>16.2f} {batched_s:>10.2f} {sequential_s / batched_s:>7.1f}x"
            f"  {equal:<5}  {batched.result.value:.4f}"
        )
    print(f"{'overall':<11} {totals[0]:>16.2f} {totals[1]:>10.2f} {totals[0] / totals[1]:>7.1f}x", flush=True)
    if "verbmem_f" in args.metrics:
        floor = prompt_floor(model, tokenizer, bundle, args.items)
        print(f"verbmem_f prompts, one forward each (no decoding; the same work in both modes): {floor:.2f} s")


if __name__ == "__main__":
    main()
