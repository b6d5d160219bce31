"""Alembic environment: the URL comes from the caller (service.migrate) or from the service settings."""

from alembic import context
from sqlalchemy import create_engine

from service.config import get_settings
from service.models import Base

target_metadata = Base.metadata


def database_url() -> str:
    return context.config.attributes.get("database_url") or get_settings().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
