"""`unlearn-audit corpus upload FOLDER|FILE`: a MUSE folder (or a bundle JSON file) stored by the service."""

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx

from service.specs.corpus import CorpusError, load_bundle
from worker.cli.api_client import EXIT_USAGE, ClientError, add_connection_arguments, api_client, call


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("corpus", help="corpora on a running service")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    upload = actions.add_parser("upload", help="upload a MUSE folder or a bundle JSON file; prints its corpus id")
    upload.add_argument("source", type=Path, help="a folder in the MUSE layout, or one bundle JSON file")
    upload.add_argument("--name", help="a name for lists (default: the folder or file name)")
    upload.add_argument("--label", action="append", default=[], metavar="KEY:VALUE", help="a label (repeatable)")
    add_connection_arguments(upload)
    upload.set_defaults(handler=handle_upload)


def upload_corpus(client: httpx.Client, source: Path, name: str | None, labels: list[str]) -> dict[str, Any]:
    """The stored corpus (the same one again when this content was uploaded before)."""
    try:
        document = load_bundle(source).to_document()  # checked here first: the problems name the file
    except CorpusError as error:
        raise ClientError(f"corpus {source}: {error}", EXIT_USAGE) from None
    params = [("name", name or source.resolve().name), *(("label", label) for label in labels)]
    return call(client, "POST", "/v1/corpora", params=params, json=document).json()


def handle_upload(args: argparse.Namespace) -> int:
    try:
        with api_client(args) as client:
            corpus = upload_corpus(client, args.source, args.name, args.label)
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    parts = ", ".join(f"{part} {count}" for part, count in corpus["parts"].items())
    print(f"corpus {corpus['id']} ({corpus['name']}; {parts})", file=sys.stderr)
    print(corpus["id"])
    return 0
