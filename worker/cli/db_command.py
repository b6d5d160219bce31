"""`unlearn-audit db upgrade [REVISION]` and `db downgrade REVISION`: the Alembic migrations."""

import argparse
import sys

from service.config import FolderError, get_settings
from service.migrate import downgrade, upgrade


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="migrate the configured database (DATABASE_URL)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply migrations (default: to the newest)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=handle_upgrade)
    down = actions.add_parser("downgrade", help="revert migrations down to a revision ('base' removes all)")
    down.add_argument("revision")
    down.set_defaults(handler=handle_downgrade)


def handle_upgrade(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        settings.ensure_folders()
    except FolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    upgrade(settings.sqlalchemy_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def handle_downgrade(args: argparse.Namespace) -> int:
    downgrade(get_settings().sqlalchemy_url, args.revision)
    print(f"database at {args.revision}")
    return 0
