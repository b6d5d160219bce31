"""Work never done twice: the result cache across audits, and identical quantized models within one.

1. Audit A: the demo's target and two unlearned models at full, RTN 8-bit and RTN 4-bit g64; then audit B,
   the same plus a third unlearned model, with the same result cache (a fresh folder). Prints B's time over
   A's and how many variants each evaluated (B: only the new model's, expected).
2. The demo's own audit (its spec, its models) with the bucket_constrained variants that a digest proves
   identical to the target skipped, against the same audit with every variant evaluated (as before issue 15).

The demo's models are built (or found) in the demo's cache folder; --fast builds the small configuration in
seconds, with its unlearning recipe and two variants of it (the full configuration takes minutes to build).
Torch runs on --threads threads (default 1: on a shared CPU more threads than free cores slows every op).

    PYTHONPATH=. .venv/bin/python bench/bench_cache.py [--fast] [--items 16] [--threads 1] [--repeats 2]
"""

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from platformdirs import user_cache_dir

from service.specs.audit import AuditSpec
from service.specs.corpus import load_bundle
from service.specs.report import Report
from worker.engine.demo import DemoConfig, demo_spec, prepare_demo
from worker.engine.demo.spec import DEMO_METRICS, DEMO_PRECISIONS
from worker.engine.result_cache import FolderCache
from worker.engine.runner import AuditRun, run_audit

CACHE_PRECISIONS = DEMO_PRECISIONS[:3]  # full, RTN 8-bit per channel, RTN 4-bit g64


def fast_config() -> DemoConfig:
    """The small demo with three unlearned models: its recipe and two variants of it."""
    config = DemoConfig.fast()
    recipe = config.unlearning[0]
    variants = (
        recipe,
        recipe | {"name": "ga_short", "max_steps": 20, "bucket_constraint": None},
        recipe | {"name": "ga_long", "max_steps": 90, "bucket_constraint": None},
    )
    return dataclasses.replace(config, unlearning=variants)


def timed(spec: dict[str, Any], workdir: Path, cache: FolderCache | None = None) -> tuple[float, Report]:
    validated = AuditSpec.model_validate(spec)
    started = time.perf_counter()
    report = run_audit(validated, load_bundle(Path(validated.corpus)), workdir, cache=cache)  # type: ignore[arg-type]
    return time.perf_counter() - started, report


def evaluated(report: Report) -> int:
    return sum(1 for v in report.variants if v.reused_from is None and v.identical_to is None)


def cache_table(assets, items: int, workdir: Path) -> list[str]:
    names = list(assets.unlearned)
    base = demo_spec(assets, max_items=items, precisions=CACHE_PRECISIONS, metrics=DEMO_METRICS)
    first = base | {"unlearned": [u for u in base["unlearned"] if u["name"] in names[:2]]}
    cache = FolderCache(workdir / "result-cache")
    time_a, report_a = timed(first, workdir / "a", cache)
    time_b, report_b = timed(base, workdir / "b", cache)
    new = [v.model for v in report_b.variants if v.reused_from is None and v.identical_to is None]
    return [
        "| audit | models | variants | evaluated | time (s) |",
        "| --- | --- | --- | --- | --- |",
        f"| A | target + {', '.join(names[:2])} | {len(report_a.variants)} | {evaluated(report_a)} | {time_a:.1f} |",
        f"| B | A + {names[2]} | {len(report_b.variants)} | {evaluated(report_b)} ({', '.join(sorted(set(new)))}) "
        f"| {time_b:.1f} |",
        f"\nB / A: {time_b / time_a:.3f}",
    ]


def identical_table(assets, items: int, workdir: Path, repeats: int) -> list[str]:
    """Before and after, interleaved `repeats` times; the fastest of each (a shared CPU's noise only adds)."""
    spec = demo_spec(assets, max_items=items)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for repeat in range(repeats):
        before, report_before = without_digests(spec, workdir / f"before-{repeat}")
        after, report_after = timed(spec, workdir / f"after-{repeat}")
        times["before"].append(before)
        times["after"].append(after)
    skipped = [f"{v.model} @ {v.precision_label}" for v in report_after.variants if v.identical_to]
    same = all(a.metrics == b.metrics for a, b in zip(report_before.variants, report_after.variants, strict=True)) and [
        i.model_dump() for i in report_before.items
    ] == [i.model_dump() for i in report_after.items]
    before, after = min(times["before"]), min(times["after"])
    return [
        "| demo audit | variants evaluated | time (s), best of " + str(repeats) + " |",
        "| --- | --- | --- |",
        f"| every variant evaluated (before) | {evaluated(report_before)} | {before:.1f} |",
        f"| identical variants skipped (after) | {evaluated(report_after)} | {after:.1f} |",
        f"\nskipped: {', '.join(skipped) or 'none'}",
        f"after / before: {after / before:.3f}; same numbers and items: {same}",
    ]


def without_digests(spec: dict[str, Any], workdir: Path) -> tuple[float, Report]:
    """The audit as before issue 15: no digest, so every variant is evaluated."""
    digest = AuditRun.digest
    AuditRun.digest = lambda self, name, precision: None  # type: ignore[method-assign]
    try:
        return timed(spec, workdir)
    finally:
        AuditRun.digest = digest  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the small demo configuration (builds in seconds)")
    parser.add_argument("--items", type=int, default=16, help="items per evaluation set")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="before/after rounds of the demo audit")
    parser.add_argument("--demo-cache", type=Path, default=Path(user_cache_dir("unlearn-audit")) / "demo")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = fast_config() if args.fast else DemoConfig()
    assets = prepare_demo(args.demo_cache / ("fast" if args.fast else "full"), config)
    with tempfile.TemporaryDirectory() as folder:
        print("\n".join(cache_table(assets, args.items, Path(folder))) + "\n")
        print("\n".join(identical_table(assets, args.items, Path(folder), args.repeats)))


if __name__ == "__main__":
    main()
