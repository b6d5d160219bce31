"""`unlearn-audit worker`: a Celery worker on the configured broker (GPU and CPU queues by default)."""

import argparse

from service.config import CPU_QUEUE, GPU_QUEUE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("worker", help="run a worker that executes audit runs from the broker")
    parser.add_argument("--queues", default=f"{GPU_QUEUE},{CPU_QUEUE}", help="comma-separated queues to consume")
    parser.add_argument("--concurrency", type=int, default=1, help="runs at once (one per GPU is typical)")
    parser.add_argument(
        "--pool", default="prefork", choices=["prefork", "solo", "threads"], help="prefork recycles processes"
    )
    parser.add_argument("--loglevel", default="INFO")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from worker.celery_app import app  # imports the engine: only when a worker is really started

    argv = ["worker", "-Q", args.queues, "--concurrency", str(args.concurrency), "--pool", args.pool]
    app.worker_main([*argv, "--loglevel", args.loglevel, "--without-gossip", "--without-mingle"])
    return 0
