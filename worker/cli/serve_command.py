"""`unlearn-audit serve`: the embedded default on one machine, with no other service to install.

The API on SQLite (WAL), and an in-process Celery worker (solo pool, in a thread) on a broker kept in the
same data folder (kombu's SQLAlchemy transport on SQLite): the same tasks and engine as a deployment.
"""

import argparse
import os
import sys
import threading
from pathlib import Path

DEFAULT_PORT = 8321


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="start the API with an in-process worker (SQLite, no services)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--data-dir", type=Path, help="database, broker, models and checkpoints (a setting)")
    parser.add_argument("--no-worker", action="store_true", help="API only: runs go to external workers")
    parser.add_argument("--demo", action="store_true", help="also run the built-in demo audit through the API")
    parser.add_argument("--demo-size", choices=["fast", "full"], default="full", help="fast: seconds, not minutes")
    parser.add_argument("--exit-after-demo", action="store_true", help="stop the server once the demo is done")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.data_dir:
        os.environ["UNLEARN_AUDIT_DATA_DIR"] = str(args.data_dir.expanduser().resolve())
    import uvicorn

    from service.config import FolderError, get_settings
    from service.main import create_app
    from service.migrate import upgrade
    from service.server import server_config
    from worker.cli.embedded import first_key_message, recover_unfinished_runs, start_embedded_worker

    settings = get_settings()
    try:
        settings.ensure_folders()
    except FolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    upgrade(settings.sqlalchemy_url)
    base_url = f"http://{args.host}:{args.port}"
    if not args.no_worker:
        start_embedded_worker()
        recover_unfinished_runs(settings)
    print(f"unlearn-audit serving at {base_url}  (API docs: {base_url}/docs; data: {settings.data_dir})", flush=True)
    print(first_key_message(settings), flush=True)
    server = uvicorn.Server(server_config(create_app(settings), settings, args.host, args.port))
    if args.demo:
        from worker.cli.serve_demo import run_demo_when_ready

        threading.Thread(
            target=run_demo_when_ready, args=(server, base_url, settings, args.demo_size, args.exit_after_demo),
            daemon=True,
        ).start()  # fmt: skip
    server.run()
    return getattr(server, "demo_exit_code", 0)
