"""The Alembic migrations build exactly the models' schema, and come down cleanly, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.db import engine_for, session_scope
from service.keys.service import create_key
from service.migrate import downgrade, upgrade
from service.models import Audit, Base, Corpus, ItemScore, Run
from service.specs.report import ItemRecord
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


def store_item(url: str, record: ItemRecord) -> str:
    with session_scope(url) as session:
        tenant_id = create_key(session, "migrations").tenant_id
        corpus = Corpus(tenant_id=tenant_id, sha256="0" * 64, document={}, parts={})
        session.add(corpus)
        session.flush()
        audit = Audit(tenant_id=tenant_id, corpus_id=corpus.id, spec={})
        session.add(audit)
        session.flush()
        run = Run(audit_id=audit.id, kind="evaluate", model="target", precision_label="full", precision={})
        session.add(run)
        session.flush()
        row = ItemScore.from_record(record, run.id, audit.id)
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_item_scores_stored_before_labels_stay_readable(backend, tmp_path):
    record = ItemRecord(
        model="target", precision_label="full", metric="privleak", index=3, score=2.5, output="o", truth="t",
        prompt="p", truncated=True, label=1,
    )  # fmt: skip
    with fresh_database(backend, tmp_path) as url:
        row_id = store_item(url, record)
        with session_scope(url) as session:
            assert session.get(ItemScore, row_id).to_record() == record  # every field has its column
        downgrade(url, "0001")  # the schema before labels were kept: the row loses its label, nothing else
        upgrade(url)
        with session_scope(url) as session:
            assert session.get(ItemScore, row_id).to_record() == record.model_copy(update={"label": None})
        engine_for(url).dispose()
