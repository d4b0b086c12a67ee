"""covering index of the figures the filtered loop summary and trends count

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ["category", "created_at", "grid_id", "state", "due_at", "resolved_at", "closed_at", "reopen_count"]


def upgrade() -> None:
    # A filtered summary (date range, categories, states) counts every case
    # that matches; with this index it reads a narrow sorted copy of the
    # columns it needs instead of the wide rows of the cases table.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_facts", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_facts")
