"""updated_at on audits and runs (ETags, polling); webhooks and their deliveries

Revision ID: 0002_webhooks
Revises: 0001
Create Date: 2026-12-01 09:15:40.169929
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_webhooks'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # existing rows: their latest known change
    for table in ('audits', 'runs'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        op.execute(f'UPDATE {table} SET updated_at = COALESCE(finished_at, started_at, created_at)')
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('updated_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    for table in ('runs', 'audits'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('updated_at')
