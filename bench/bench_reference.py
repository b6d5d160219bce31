"""This project's metrics against the MUSE metric code of the paper's repository: same items, same model, one run.

The paper's code (FailureLLMUnlearning: metrics/privleak.py, metrics/knowmem.py) is imported from a local copy
whose folder is given on the command line (fetch it; never commit it); it needs scikit-learn and scipy. A tiny
Llama-style model is trained on the evaluation texts, so its log-probs and greedy answers are not noise. Items:
the first N of MUSE-News (--data) or of the project's MUSE-News-shaped tiny world. Each side runs PrivLeak,
KnowMem-forget and KnowMem-retain in turn; the table shows seconds, the ratio, and both numbers (PrivLeak's
forget-holdout Min-40% AUC, KnowMem's mean ROUGE-L). VerbMem is left out: the paper's copy samples its
continuations (temperature 0.9), so no two runs give the same numbers.

    git --git-dir=/work/.mirror/zzwjames+FailureLLMUnlearning/repo archive HEAD metrics | tar -x -C /tmp/paper
    PYTHONPATH=. .venv/bin/python bench/bench_reference.py /tmp/paper [--data /work/shared/data/muse-news] [--items 8]
"""

import argparse
import importlib
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from service.specs.audit import Limits
from service.specs.corpus import CorpusBundle, load_bundle
from tests.tiny_world import make_bundle, training_texts
from worker.engine.metrics import evaluate
from worker.engine.metrics.base import EvalContext
from worker.engine.tiny import TinyModelConfig, build_model, token_chunks, train_causal_lm, train_tokenizer

# a context longer than any text: the project cuts texts to the model's context, the paper's code does not
MODEL_CONFIG = TinyModelConfig(hidden_size=64, layers=2, heads=4, intermediate_size=128, max_positions=32768)
PRIVLEAK_KEY = "forget_holdout_Min-40%"


def trained_model(bundle: CorpusBundle, steps: int) -> tuple[Any, Any]:
    texts = training_texts(bundle)
    tokenizer = train_tokenizer(texts + list(bundle.privleak_holdout or []), vocab_size=400)
    model = build_model(tokenizer, MODEL_CONFIG, seed=0)
    chunks = token_chunks(tokenizer, texts, length=64)
    random.Random(0).shuffle(chunks)
    train_causal_lm(model, chunks, steps=steps, lr=3e-3, batch_size=8, pad_token_id=tokenizer.pad_token_id, seed=0)
    return model.eval(), tokenizer


def ours(model: Any, tokenizer: Any, bundle: CorpusBundle, items: int) -> dict[str, float]:
    limits = Limits(max_items=items, batch_size=16, bootstrap_samples=0)
    context = EvalContext(limits, seed=0, model_name="bench", precision_label="full")
    outcomes = evaluate(model, tokenizer, bundle, ["privleak", "knowmem_f", "knowmem_r"], context)
    return {
        "privleak": float(outcomes["privleak"].result.extra["auc"] or 0.0),
        "knowmem_f": statistics.mean(item.score for item in outcomes["knowmem_f"].items),
        "knowmem_r": statistics.mean(item.score for item in outcomes["knowmem_r"].items),
    }


def theirs(paper: Path, model: Any, tokenizer: Any, bundle: CorpusBundle, items: int) -> dict[str, float]:
    sys.path.insert(0, str(paper))
    privleak, knowmem = importlib.import_module("metrics.privleak"), importlib.import_module("metrics.knowmem")
    with torch.no_grad():
        auc, _ = privleak.eval(
            forget_data=(bundle.privleak_forget or [])[:items],
            retain_data=(bundle.privleak_retain or [])[:items],
            holdout_data=(bundle.privleak_holdout or [])[:items],
            model=model,
            tokenizer=tokenizer,
        )
        results = {"privleak": float(auc[PRIVLEAK_KEY])}
        for name, qa, icl in (
            ("knowmem_f", bundle.knowmem_forget_qa, bundle.knowmem_forget_qa_icl),
            ("knowmem_r", bundle.knowmem_retain_qa, bundle.knowmem_retain_qa_icl),
        ):
            questions, examples = (qa or [])[:items], icl or []
            agg, _ = knowmem.eval(
                model=model,
                tokenizer=tokenizer,
                questions=[q.question for q in questions],
                answers=[q.answer for q in questions],
                icl_qs=[q.question for q in examples],
                icl_as=[q.answer for q in examples],
                max_new_tokens=32,
            )
            results[name] = float(agg["mean_rougeL"])
    return results


def timed(run: Any) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    numbers = run()
    return time.perf_counter() - start, numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paper", type=Path, help="folder of a local copy of the paper's repository")
    parser.add_argument("--data", type=Path, help="a MUSE-News folder (default: the project's tiny world)")
    parser.add_argument("--items", type=int, default=8, help="first N items of each evaluation set")
    parser.add_argument("--train-steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (args.paper / "metrics" / "privleak.py").is_file():
        parser.error(f"paper: no metrics/privleak.py under {args.paper}")
    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.data) if args.data else make_bundle()
    model, tokenizer = trained_model(bundle, args.train_steps)
    paper_seconds, paper_numbers = timed(lambda: theirs(args.paper, model, tokenizer, bundle, args.items))
    our_seconds, our_numbers = timed(lambda: ours(model, tokenizer, bundle, args.items))
    print(f"items per set: {args.items}, torch threads: {args.threads}")
    print("| metric | paper's code | this project | equal |\n|---|---|---|---|")
    for name, theirs_value in paper_numbers.items():
        equal = "yes" if abs(theirs_value - our_numbers[name]) <= 1e-9 else "NO"
        print(f"| {name} | {theirs_value:.6f} | {our_numbers[name]:.6f} | {equal} |")
    print(f"| seconds | {paper_seconds:.2f} | {our_seconds:.2f} | ratio {paper_seconds / our_seconds:.2f}x |")


if __name__ == "__main__":
    main()
