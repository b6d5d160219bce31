"""The 1B-class rehearsal: audit a sharded bf16 checkpoint (bench/make_checkpoint.py) at full, RTN 8, RTN 4
g128 and NF4, and scan it for bucket collision. Each variant and each scan runs in a fresh subprocess so
that its peak resident memory is its own (above a baseline taken after the libraries are imported).

Prints per variant: load time, peak memory over the checkpoint's size (target: <= 2.5x), seconds per
evaluated item, generated tokens per second (the decoding budget: random weights do not stop early; and
peak GPU memory on CUDA); per collision quantizer: the
scan's throughput in GB of weights read (both checkpoints) per second, for the first scan of a process (it
loads the compiled kernels) and the median of the next ones (a worker that scans again), and its peak memory.

    PYTHONPATH=. .venv/bin/python bench/make_checkpoint.py --size 1b --out /tmp/ckpt-1b
    PYTHONPATH=. .venv/bin/python bench/bench_scale.py /tmp/ckpt-1b [--items 2] [--device auto]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PRECISIONS = [
    {"method": "full"},
    {"method": "rtn", "bits": 8, "group_size": None},
    {"method": "rtn", "bits": 4, "group_size": 128},
    {"method": "bnb_nf4"},
]
METRICS = ["verbmem_f", "knowmem_f"]
SCANS = 3  # per collision child: the first loads the compiled kernels; the median of the others is steady


def checkpoint_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*.safetensors"))


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def evaluate_child(root: Path, precision: dict, items: int, device: str) -> dict:
    import bitsandbytes  # noqa: F401  (its native library is loaded before the baseline)
    import torch

    from service.specs.audit import AuditSpec
    from tests.tiny_world import make_bundle
    from worker.engine.metrics.knowmem import KNOWMEM_NEW_TOKENS
    from worker.engine.metrics.verbmem import VERBMEM_NEW_TOKENS
    from worker.engine.models import load_model, resolve_device
    from worker.engine.variant import evaluate_variant

    spec = AuditSpec.model_validate(
        {"target": {"model": str(root / "target")}, "unlearned": [{"name": "u", "model": str(root / "unlearned")}],
         "corpus": "c", "precisions": [precision], "metrics": METRICS,
         "limits": {"max_items": items, "bootstrap_samples": 0}}
    )  # fmt: skip
    bundle = make_bundle()
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    loaded = load_model("target", str(root / "target"), device=resolve_device(device))
    load_s = time.perf_counter() - started
    outcome = evaluate_variant(loaded, spec.precisions[-1], spec, bundle)
    # Random weights almost never pick EOS among 32,000 tokens, so every item decodes its whole budget (and
    # its text is mostly ids the small tokenizer cannot spell, so the outputs cannot be counted instead).
    budget = {"verbmem_f": VERBMEM_NEW_TOKENS, "knowmem_f": KNOWMEM_NEW_TOKENS}
    generated = sum(budget[item.metric] for item in outcome.items)
    cuda = loaded.device.type == "cuda"
    return {
        "label": spec.precisions[-1].label,
        "dtype": loaded.dtype,
        "load_s": load_s,
        "peak_bytes": peak_rss_bytes() - baseline,
        "gpu_peak_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "items": len(outcome.items),
        "evaluate_s": outcome.variant.timings["evaluate"],
        "quantize_s": outcome.variant.timings["quantize"],
        "tokens": generated,
    }


def collision_child(root: Path, precision: dict) -> dict:
    import bitsandbytes  # noqa: F401
    from pydantic import TypeAdapter

    from service.specs.precision import PrecisionConfig
    from worker.engine.collision import bucket_collision

    config = TypeAdapter(PrecisionConfig).validate_python(precision)
    baseline = peak_rss_bytes()
    seconds = []
    for _ in range(SCANS):
        started = time.perf_counter()
        result = bucket_collision(root / "target", root / "unlearned", config)
        seconds.append(time.perf_counter() - started)
    bytes_read = 2 * result.n_weights * 2  # bf16 weights of both checkpoints
    return {"label": config.label, "first_s": seconds[0], "next_s": statistics.median(seconds[1:]),
            "bytes_read": bytes_read, "peak_bytes": peak_rss_bytes() - baseline, "overall": result.overall}  # fmt: skip


def child(*arguments: str) -> dict:
    command = [sys.executable, __file__, "--child", *arguments]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, nargs="?", help="the folder make_checkpoint.py wrote")
    parser.add_argument("--items", type=int, default=2, help="items per evaluation set (limits.max_items)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--no-collision", action="store_true")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, root, precision = args.child[0], Path(args.child[1]), json.loads(args.child[2])
        row = evaluate_child(root, precision, args.items, args.device) if kind == "evaluate" else None
        print(json.dumps(row or collision_child(root, precision)))
        return
    size = checkpoint_bytes(args.root / "target")
    print(f"checkpoint {args.root / 'target'}: {size / 1e9:.2f} GB; {args.items} items per set, metrics {METRICS}")
    print(f"{'variant':<18} {'dtype':>9} {'load s':>7} {'quant s':>8} {'peak GB':>8} {'x ckpt':>7} {'s/item':>7} "
          f"{'tok/s':>7} {'GPU GB':>7}")  # fmt: skip
    for precision in PRECISIONS:
        row = child("evaluate", str(args.root), json.dumps(precision), "--items", str(args.items),
                    "--device", args.device)  # fmt: skip
        gpu = "-" if row["gpu_peak_bytes"] is None else f"{row['gpu_peak_bytes'] / 1e9:.2f}"
        print(f"{row['label']:<18} {row['dtype']:>9} {row['load_s']:>7.1f} {row['quantize_s']:>8.1f} "
              f"{row['peak_bytes'] / 1e9:>8.2f} {row['peak_bytes'] / size:>7.2f} "
              f"{row['evaluate_s'] / row['items']:>7.1f} {row['tokens'] / row['evaluate_s']:>7.1f} {gpu:>7}",
              flush=True)  # fmt: skip
    if args.no_collision:
        return
    print(f"\n{'collision':<18} {'first s':>8} {'GB/s':>6} {'next s':>7} {'GB/s':>6} {'peak GB':>8} {'x ckpt':>7} "
          f"{'overall':>8}")  # fmt: skip
    for precision in PRECISIONS[1:]:
        row = child("collision", str(args.root), json.dumps(precision))
        first, after, peak = row["first_s"], row["next_s"], row["peak_bytes"]
        print(f"{row['label']:<18} {first:>8.2f} {row['bytes_read'] / first / 1e9:>6.2f} {after:>7.2f} "
              f"{row['bytes_read'] / after / 1e9:>6.2f} {peak / 1e9:>8.2f} {peak / size:>7.2f} "
              f"{row['overall']:>8.4f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
