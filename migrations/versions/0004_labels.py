"""names and labels on audits, labels on corpora (lists filter and sort on them)

Revision ID: 0004_labels
Revises: 0003_webhooks
Create Date: 2026-12-02 07:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_labels"
down_revision: str | None = "0003_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("corpora", schema=None) as batch_op:
        batch_op.add_column(sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("corpora", schema=None) as batch_op:
        batch_op.drop_column("labels")
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_column("labels")
        batch_op.drop_column("name")
