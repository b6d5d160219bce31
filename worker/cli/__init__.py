"""The `unlearn-audit` console script. Each subcommand lives in its own module with a `register` function."""

import argparse
import importlib
import sys

SUBCOMMANDS = ("run", "unlearn", "demo", "serve", "worker", "keys", "db", "corpus", "submit", "status", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unlearn-audit",
        description="Audit LLM unlearning at every precision a model may be run at.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"worker.cli.{name}_command")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
