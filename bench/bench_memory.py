"""Peak memory of evaluating one variant, against the fp32 size of its model (target: <= 2.5x + activations).

Each variant runs in a fresh subprocess so that its peak resident set is its own, measured above a baseline
taken after every library is imported (bitsandbytes' native code is not the model's). The model is a ~45M-
parameter Llama-style model built from a config (random weights: memory does not depend on what it knows).

    .venv/bin/python bench/bench_memory.py [--items 8]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

PRECISIONS = [
    {"method": "full"},
    {"method": "rtn", "bits": 8, "group_size": None},
    {"method": "rtn", "bits": 4, "group_size": 64},
    {"method": "bnb_int8"},
    {"method": "bnb_nf4"},
]


def build_model(folder: Path) -> None:
    from tests.tiny_world import make_bundle, training_texts
    from worker.engine.tiny import TinyModelConfig, build_model, train_tokenizer

    bundle = make_bundle()
    tokenizer = train_tokenizer(training_texts(bundle), vocab_size=400)
    config = TinyModelConfig(hidden_size=512, layers=12, heads=8, intermediate_size=1408, max_positions=512)
    build_model(tokenizer, config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def measure(folder: Path, precision: dict, items: int) -> dict:
    """Runs in the child: load once, evaluate one variant, report peak RSS above the pre-load baseline."""
    import bitsandbytes  # noqa: F401  (imported before the baseline: its native library is not the model's)
    import torch

    from service.specs.audit import AuditSpec
    from tests.tiny_world import make_bundle
    from worker.engine.models import load_model
    from worker.engine.variant import evaluate_variant

    torch.set_num_threads(2)
    spec = AuditSpec.model_validate(
        {"target": {"model": str(folder)}, "unlearned": [{"name": "u", "model": str(folder)}], "corpus": "c",
         "precisions": [precision], "limits": {"max_items": items, "bootstrap_samples": 0},
         "metrics": ["verbmem_f", "knowmem_f", "privleak"]}
    )  # fmt: skip
    bundle = make_bundle()
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loaded = load_model("target", str(folder), dtype=torch.float32)
    fp32_bytes = sum(p.numel() * 4 for p in loaded.model.parameters())
    precision_config = spec.precisions[-1]
    evaluate_variant(loaded, precision_config, spec, bundle)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"label": precision_config.label, "fp32_mb": fp32_bytes / 2**20, "peak_mb": (peak_kib - baseline_kib) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "PRECISION"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), json.loads(args.child[1]), args.items)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        build_model(folder)
        rows = []
        for precision in PRECISIONS:
            command = [
                sys.executable,
                __file__,
                "--items",
                str(args.items),
                "--child",
                str(folder),
                json.dumps(precision),
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
    print(f"{'precision':<20} {'fp32 size MB':>12} {'peak above baseline MB':>24} {'ratio':>7}")
    for row in rows:
        ratio = row["peak_mb"] / row["fp32_mb"]
        print(f"{row['label']:<20} {row['fp32_mb']:>12.1f} {row['peak_mb']:>24.1f} {ratio:>7.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
