"""`unlearn-audit report ID --format html|csv|json --out FILE`: an audit's report from the service."""

import argparse
import sys
from pathlib import Path

from worker.cli.api_client import ClientError, add_connection_arguments, api_client, call, verdict_exit_code


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="download an audit's report (exit code: its verdict's)")
    parser.add_argument("audit_id", help="the id `submit` printed")
    parser.add_argument("--format", choices=("html", "csv", "json"), default="json", help="default: json")
    parser.add_argument("--out", type=Path, required=True, help="the file to write (its folder must exist)")
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        with api_client(args) as client:
            verdict = call(client, "GET", f"/v1/audits/{args.audit_id}", params={"fields": "verdict"}).json()
            report = call(client, "GET", f"/v1/audits/{args.audit_id}/report", params={"format": args.format})
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    try:
        args.out.write_bytes(report.content)
    except OSError as error:
        print(f"error: --out {args.out}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"{args.format} report written to {args.out} (verdict: {verdict['verdict'] or 'none yet'})", file=sys.stderr)
    return verdict_exit_code(verdict["verdict"])
