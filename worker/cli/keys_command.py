"""`unlearn-audit keys create --tenant NAME` (prints a new API key once) and `keys revoke KEY_ID`."""

import argparse
import sys

from service.config import FolderError, get_settings
from service.db import session_scope
from service.keys.service import KeyNotFoundError, create_key, revoke_key
from service.migrate import upgrade


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="create or revoke API keys (in the configured database)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key for a tenant (created on first use) and print it once")
    create.add_argument("--tenant", required=True, help="the tenant (organisation) the key belongs to")
    create.set_defaults(handler=handle_create)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the id printed by `keys create`")
    revoke.set_defaults(handler=handle_revoke)


def handle_create(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        settings.ensure_folders()
        upgrade(settings.sqlalchemy_url)  # a fresh data folder works at once
        with session_scope(settings.sqlalchemy_url) as session:
            created = create_key(session, args.tenant)
    except (FolderError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"key id: {created.key_id}\ntenant: {created.tenant_name}\napi key (shown once): {created.token}")
    return 0


def handle_revoke(args: argparse.Namespace) -> int:
    try:
        with session_scope(get_settings().sqlalchemy_url) as session:
            revoke_key(session, args.key_id)
    except KeyNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"revoked key {args.key_id}")
    return 0
