"""The Alembic migrations build exactly the models' schema, and come down cleanly, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.db import engine_for
from service.migrate import downgrade, upgrade
from service.models import Base
from tests.service.databases import fresh_database


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_matches_the_models_and_downgrade_removes_everything(backend, tmp_path):
    with fresh_database(backend, tmp_path, migrate=False) as url:
        engine = engine_for(url)
        upgrade(url)
        assert set(inspect(engine).get_table_names()) == {*Base.metadata.tables, "alembic_version"}
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        downgrade(url)
        engine.dispose()
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(url)
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
        engine.dispose()
