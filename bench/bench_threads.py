"""What a busy core does to evaluation, with torch's default thread count and with the setting's.

Forward passes (PrivLeak's and perplexity's work) over random token sequences on a ~45M-parameter
Llama-style model built from a config, timed in a fresh subprocess per case, medians of repeats. "busy" runs
a process spinning on one core alongside (as the embedded server's API or another job would).

    PYTHONPATH=. .venv/bin/python bench/bench_threads.py [--texts 8] [--tokens 512] [--repeats 3]
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_model(folder: Path) -> None:
    from tests.tiny_world import make_bundle, training_texts
    from worker.engine.tiny import TinyModelConfig, build_model, train_tokenizer

    tokenizer = train_tokenizer(training_texts(make_bundle()), vocab_size=400)
    config = TinyModelConfig(hidden_size=512, layers=12, heads=8, intermediate_size=1408, max_positions=512)
    build_model(tokenizer, config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def timed_passes(folder: str, threads: int, texts: int, tokens: int) -> float:
    """Runs in the child: seconds for the forward passes with `threads` torch threads."""
    import torch

    from worker.engine.generation import token_logprobs
    from worker.engine.models import load_model

    torch.set_num_threads(threads)
    loaded = load_model("bench", folder, dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    vocab = loaded.model.config.vocab_size
    sequences = [torch.randint(0, vocab, (tokens,), generator=generator).tolist() for _ in range(texts)]
    token_logprobs(loaded.model, sequences[:1], 1, 0)  # warm-up
    start = time.perf_counter()
    token_logprobs(loaded.model, sequences, 4, 0)
    return time.perf_counter() - start


def spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def run_case(folder: Path, threads: int, busy: bool, args: argparse.Namespace) -> float:
    spinner = None
    if busy:
        spinner = multiprocessing.Process(target=spin, args=(time.monotonic() + 600,), daemon=True)
        spinner.start()
    try:
        command = [sys.executable, __file__, "--child", str(folder), str(threads), str(args.texts), str(args.tokens)]
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy())
        return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from worker.engine.threads import usable_cores

    cores = usable_cores()
    cases = [
        ("idle", "torch default (all cores)", cores, False),
        ("one core busy", "torch default (all cores)", cores, True),
        ("one core busy", "setting: cores - 1", max(1, cores - 1), True),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        build_model(folder)
        times: dict[int, list[float]] = {i: [] for i in range(len(cases))}
        for _ in range(args.repeats):  # interleaved, so drift on a noisy machine hits every case alike
            for i, (_, _, threads, busy) in enumerate(cases):
                times[i].append(run_case(folder, threads, busy, args))
    base = statistics.median(times[0])
    print(f"{args.texts} texts x {args.tokens} tokens, {cores} usable cores, medians of {args.repeats}\n")
    print("| machine | threads | s | vs idle |\n| --- | --- | --- | --- |")
    for i, (machine, label, threads, _) in enumerate(cases):
        median = statistics.median(times[i])
        print(f"| {machine} | {label} = {threads} | {median:.2f} | {median / base:.2f}x |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        folder, threads, texts, tokens = sys.argv[2], *map(int, sys.argv[3:6])
        print(json.dumps({"seconds": timed_passes(folder, threads, texts, tokens)}))
    else:
        main()
