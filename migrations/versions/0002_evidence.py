"""item scores keep PrivLeak's per-item label

Revision ID: 0002_evidence
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_evidence'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable: rows stored before stay readable (their label is unknown)
    with op.batch_alter_table('item_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('item_scores', schema=None) as batch_op:
        batch_op.drop_column('label')
