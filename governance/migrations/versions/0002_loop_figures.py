"""loop figures: resolved_at, reopen_count, hazard_checks.note, grid_stats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("hazard_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "grid_stats",
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("closed_on_time", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("median_days_to_close", sa.Float(), nullable=True),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_grid_stats_grid_id_grids"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("grid_id", name=op.f("pk_grid_stats")),
    )
    # A grid without a grid_stats row (data from before this revision) has its
    # figures computed live by the queries, so no data migration is needed here.


def downgrade() -> None:
    op.drop_table("grid_stats")
    with op.batch_alter_table("hazard_checks", schema=None) as batch_op:
        batch_op.drop_column("note")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("reopen_count")
        batch_op.drop_column("resolved_at")
