"""the result cache's key on results (issue 15)

Revision ID: 0005_result_cache
Revises: 0003_webhooks
Create Date: 2026-12-02 07:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_result_cache"
down_revision: str | None = "0004_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("cache_key", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_results_cache_key"), ["cache_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_index(batch.f("ix_results_cache_key"))
        batch.drop_column("cache_key")
