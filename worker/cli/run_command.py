"""`unlearn-audit run SPEC.json --out DIR`: one audit in this process, no server."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir
from pydantic import ValidationError

from service.specs.audit import AuditSpec
from service.specs.corpus import CorpusBundle, CorpusError, load_bundle
from service.specs.naming import is_hub_id
from worker.cli.progress_bars import StageBars
from worker.cli.report_output import exit_status, format_results_table, write_report

CACHE_ENV = "UNLEARN_AUDIT_RESULT_CACHE_DIR"


class SpecError(ValueError):
    """A spec that cannot be run; the message names the field and the reason."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one audit from a spec file and write its report",
        epilog="exit status: 0 every variant evaluated; 1 a variant failed (the report, written, says why) or the "
        "audit could not run; 2 the spec or corpus is invalid",
    )
    parser.add_argument("spec", type=Path, help="the audit spec (JSON)")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json, report.csv, report.html")
    parser.add_argument("--workdir", type=Path, help="folder for unlearning checkpoints (default: the --out folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir(),
        help=f"folder of the result cache: variants evaluated before are reused (default: ${CACHE_ENV} or %(default)s)",
    )
    parser.add_argument("--no-cache", action="store_true", help="evaluate every variant afresh, keep nothing")
    parser.set_defaults(handler=handle, evaluates=True)


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(user_cache_dir("unlearn-audit")) / "results")


def validation_message(error: ValidationError) -> str:
    """Each problem as `field.path: reason`."""
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"]) or "spec"
        lines.append(f"{location}: {problem['msg']}")
    return "\n".join(lines)


def read_spec(path: Path) -> AuditSpec:
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError(f"{path}: cannot be read ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise SpecError(f"{path}: not valid JSON ({error})") from None
    try:
        return AuditSpec.model_validate(document)
    except ValidationError as error:
        raise SpecError(f"invalid spec {path}:\n{validation_message(error)}") from None


def resolve_corpus(spec: AuditSpec, spec_dir: Path) -> CorpusBundle:
    """The CLI accepts the bundle inline, or a folder / JSON file path (relative to the spec's folder)."""
    try:
        if isinstance(spec.corpus, dict):
            return load_bundle(spec.corpus)
        path = Path(spec.corpus).expanduser()
        if not path.is_absolute() and not path.exists():
            path = spec_dir / path
        return load_bundle(path)
    except CorpusError as error:
        raise SpecError(f"corpus: {error}") from None


def resolve_model_paths(spec: AuditSpec, spec_dir: Path) -> AuditSpec:
    """Local model folders given relative to the spec file are made absolute (a hub id stays a hub id)."""
    document = spec.model_dump(mode="json")
    entries = [document["target"], *document["unlearned"]]
    if document.get("reference") and document["reference"].get("model"):
        entries.append(document["reference"])
    for entry in entries:
        if is_hub_id(entry["model"]):
            continue
        candidate = spec_dir / entry["model"]
        if not Path(entry["model"]).is_absolute() and not Path(entry["model"]).exists() and candidate.exists():
            entry["model"] = str(candidate.resolve())
    return AuditSpec.model_validate(document)


def handle(args: argparse.Namespace) -> int:
    from worker.engine.models import ModelLoadError
    from worker.engine.quantizers.base import QuantizerUnavailable
    from worker.engine.result_cache import FolderCache
    from worker.engine.runner import run_audit

    try:
        spec = read_spec(args.spec)
        corpus = resolve_corpus(spec, args.spec.parent)
        spec = resolve_model_paths(spec, args.spec.parent)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if corpus.ignored:
        print(f"corpus: ignored (no part of the bundle layout): {', '.join(corpus.ignored)}", file=sys.stderr)
    bars = StageBars(enabled=not args.quiet)
    try:
        cache = None if args.no_cache else FolderCache(args.cache)
        report = run_audit(spec, corpus, args.workdir or args.out, progress=bars, cache=cache)
    except (ModelLoadError, QuantizerUnavailable, ValueError) as error:
        bars.close()
        print(f"error: {error}", file=sys.stderr)
        return 1
    bars.close()
    paths = write_report(report, args.out)
    print(format_results_table(report))
    print("\nreport: " + ", ".join(str(p) for p in paths))
    return exit_status(report)
