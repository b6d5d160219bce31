"""`unlearn-audit demo [--out DIR] [--cache DIR]`: build the demo's models (cached) and audit them."""

import argparse
import sys
import time
from pathlib import Path

from platformdirs import user_cache_dir

from worker.cli.progress_bars import StageBars


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="build a tiny target and unlearned models on this machine and audit them at every precision"
    )
    parser.add_argument("--out", type=Path, default=Path("demo-report"), help="folder for the report files")
    parser.add_argument(
        "--cache", type=Path, default=Path(user_cache_dir("unlearn-audit")) / "demo", help="folder for built models"
    )
    parser.add_argument("--fast", action="store_true", help="a small configuration that builds in seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=handle, evaluates=True)


def handle(args: argparse.Namespace) -> int:
    from service.specs.audit import AuditSpec
    from service.specs.corpus import load_bundle
    from worker.cli.report_output import exit_status, format_results_table, write_report
    from worker.engine.demo import FAST_METRICS, FAST_PRECISIONS, DemoConfig, demo_spec, prepare_demo
    from worker.engine.runner import run_audit

    started = time.perf_counter()
    bars = StageBars(enabled=not args.quiet)
    config = DemoConfig.fast() if args.fast else DemoConfig()
    assets = prepare_demo(args.cache, config, progress=bars)
    built = time.perf_counter()
    document = demo_spec(assets, precisions=FAST_PRECISIONS, metrics=FAST_METRICS) if args.fast else demo_spec(assets)
    spec = AuditSpec.model_validate(document)
    report = run_audit(spec, load_bundle(assets.bundle_dir), args.out, progress=bars)
    bars.close()
    paths = write_report(report, args.out)
    print(format_results_table(report))
    build_note = "reused from the cache" if assets.cached else f"built ({assets.timings})"
    print(
        f"\nmodels {build_note} in {built - started:.0f} s; audit {time.perf_counter() - built:.0f} s", file=sys.stderr
    )
    print("report: " + ", ".join(str(p) for p in paths))
    return exit_status(report)
