"""`unlearn-audit submit SPEC.json [--wait] [--name NAME]`: an audit submitted to a running service.

A spec whose `corpus` names a local MUSE folder or bundle JSON file (relative to the spec's folder or the
current one) has it uploaded first and refers to it by id. With `--wait`, progress bars until the audit has
finished, and the exit code is its verdict's (0 pass, 1 fail or utility_lost, 3 none or inconclusive).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from service.specs.labels import label_pair
from worker.cli.api_client import (
    EXIT_USAGE,
    ClientError,
    add_connection_arguments,
    api_client,
    call,
    verdict_exit_code,
)
from worker.cli.audit_progress import wait_for_audit
from worker.cli.corpus_command import upload_corpus
from worker.cli.progress_bars import StageBars
from worker.cli.status_command import describe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("submit", help="submit an audit spec to a running service; prints the audit id")
    parser.add_argument("spec", type=Path, help="the audit spec (JSON)")
    parser.add_argument("--name", help="the audit's name (overrides the spec's)")
    parser.add_argument("--label", action="append", default=[], metavar="KEY:VALUE", help="a label (repeatable)")
    parser.add_argument("--wait", action="store_true", help="wait until it has finished; exit with its verdict")
    parser.add_argument("--interval", type=float, help="seconds between polls (default: the service's Retry-After)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


def read_document(path: Path, name: str | None, labels: list[str]) -> dict[str, Any]:
    """The spec file as a JSON object, with the name and labels given on the command line."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ClientError(f"{path}: not a readable JSON document ({error})", EXIT_USAGE) from None
    if not isinstance(document, dict):
        raise ClientError(f"{path}: a spec is a JSON object", EXIT_USAGE)
    if name is not None:
        document["name"] = name
    try:
        pairs = [label_pair(label) for label in labels]
    except ValueError as error:
        raise ClientError(f"--label {error}", EXIT_USAGE) from None
    if pairs:
        document["labels"] = {**(document.get("labels") or {}), **dict(pairs)}
    return document


def local_corpus(corpus: Any, spec_dir: Path) -> Path | None:
    """The local folder or file a spec's `corpus` names, or None (a corpus id, or the bundle inline)."""
    if not isinstance(corpus, str):
        return None
    for candidate in (Path(corpus).expanduser(), spec_dir / corpus):
        if candidate.exists():
            return candidate
    return None


def submit(client: httpx.Client, document: dict[str, Any], spec_dir: Path) -> httpx.Response:
    source = local_corpus(document.get("corpus"), spec_dir)
    if source is not None:
        document = {**document, "corpus": upload_corpus(client, source, None, [])["id"]}
    return call(client, "POST", "/v1/audits", json=document)


def handle(args: argparse.Namespace) -> int:
    try:
        document = read_document(args.spec, args.name, args.label)
        with api_client(args) as client:
            accepted = submit(client, document, args.spec.parent)
            audit_id = accepted.json()["id"]
            print(audit_id)
            if not args.wait:
                return 0
            interval = args.interval or float(accepted.headers.get("retry-after", 2))
            audit = wait_for_audit(client, audit_id, interval, StageBars(enabled=not args.quiet))
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(describe(audit), file=sys.stderr)
    return verdict_exit_code(audit["verdict"])
