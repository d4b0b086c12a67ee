"""index hazard_checks.case_id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The foreign key to cases had no index: deleting a case (or finding the
    # check that raised it) scanned every hazard check, once per case.
    with op.batch_alter_table("hazard_checks", schema=None) as batch_op:
        batch_op.create_index("ix_hazard_checks_case_id", ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hazard_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_hazard_checks_case_id")
