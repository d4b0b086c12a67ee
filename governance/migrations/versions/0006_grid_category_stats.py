"""grid_category_stats: the stored loop figures per grid and case category

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_category_stats",
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            # The case categories of this revision (governance.catalog.Category).
            sa.Enum("electricity", "gas", "construction", "amusement_ride", "fire_exit", "sanitation",
                    "road_occupation", "fumes", "noise", "other", name="grid_category_stats_category",
                    native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("closed_on_time", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("median_days_to_close", sa.Float(), nullable=True),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_grid_category_stats_grid_id_grids"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("grid_id", "category", name=op.f("pk_grid_category_stats")),
    )
    # No data migration: a grid without rows here has its figures for one
    # category counted live, and gets its rows at its next refresh (a close,
    # reopen, rating, regridding, `linpu demo load`, or `linpu db refresh`
    # for every grid at once).


def downgrade() -> None:
    op.drop_table("grid_category_stats")
