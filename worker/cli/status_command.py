"""`unlearn-audit status ID`: an audit's job status, progress and verdict; the exit code is the verdict's."""

import argparse
import sys
from typing import Any

from worker.cli.api_client import ClientError, add_connection_arguments, api_client, call, verdict_exit_code


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="an audit's status and verdict (exit 0 pass, 1 fail, 3 no verdict yet or inconclusive)"
    )
    parser.add_argument("audit_id", help="the id `submit` printed")
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


def describe(audit: dict[str, Any]) -> str:
    """Job and verdict on separate lines: `succeeded` is about the job, the verdict about the models."""
    progress = audit["progress"]
    lines = [
        f"audit:   {audit['id']}" + (f" ({audit['name']})" if audit.get("name") else ""),
        f"job:     {audit['status']} ({progress['runs_done']}/{progress['runs_total']} runs done)",
        f"verdict: {audit['verdict'] or 'none yet'}",
    ]
    if audit.get("error"):
        lines.append(f"error:   {audit['error']}")
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    try:
        with api_client(args) as client:
            audit = call(client, "GET", f"/v1/audits/{args.audit_id}").json()
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(describe(audit))
    return verdict_exit_code(audit["verdict"])
