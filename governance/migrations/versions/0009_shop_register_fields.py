"""the register as offices keep it: optional trade, the office's trade word, address, phone, uses gas

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.alter_column("trade", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("trade_label", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("uses_gas", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # A shop without a trade cannot go back to a schema where trade is required: it becomes 'services'.
    op.execute("UPDATE shops SET trade = 'services' WHERE trade IS NULL")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("address")
        batch_op.drop_column("uses_gas")
        batch_op.drop_column("trade_label")
        batch_op.alter_column("trade", existing_type=sa.String(length=32), nullable=False)
