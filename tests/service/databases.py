"""Throw-away databases for the service tests, built by running the migrations: SQLite and PostgreSQL."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from service.db import engine_for, session_scope
from service.keys.service import create_key
from service.migrate import upgrade

POSTGRES_ADMIN_DSN = "postgresql://root@127.0.0.1:5432/test"
POSTGRES_URL_TEMPLATE = "postgresql+psycopg://root@127.0.0.1:5432/{name}"


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def fresh_database(backend: str, folder: Path, migrate: bool = True) -> Iterator[str]:
    """The URL of a new, empty database (migrated to head unless told not to), dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.sqlite'}"
        if migrate:
            upgrade(url)
        yield url
        engine_for(url).dispose()
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (scripts/services.sh starts it)")
    name = f"ua_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL_TEMPLATE.format(name=name)
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        engine_for(url).dispose()
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_api_key(database_url: str) -> str:
    """A bearer token of a new tenant."""
    with session_scope(database_url) as session:
        return create_key(session, f"tenant-{uuid.uuid4().hex[:8]}").token
