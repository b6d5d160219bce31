"""The `unlearn-audit` console script. Each subcommand lives in its own module with a `register` function."""

import argparse
import importlib
import sys

SUBCOMMANDS = ("run", "unlearn", "demo", "serve", "worker", "keys", "db")


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
    if getattr(args, "evaluates", False):
        set_thread_count()
    return int(args.handler(args) or 0)


def set_thread_count() -> None:
    """Commands that run models set torch's thread count from the settings before they load anything."""
    from service.config import get_settings
    from worker.engine.threads import apply_thread_count

    apply_thread_count(get_settings().torch_threads)


if __name__ == "__main__":
    sys.exit(main())
