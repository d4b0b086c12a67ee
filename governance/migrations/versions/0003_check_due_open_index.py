"""check_due table and the covering index of open cases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 18:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CATEGORIES = ("electricity", "gas", "construction", "amusement_ride", "fire_exit", "sanitation",
              "road_occupation", "fumes", "noise", "other")


def upgrade() -> None:
    op.create_table(
        "check_due",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(*CATEGORIES, name="check_due_category", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("last_checked_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("applies_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_check_due_grid_id_grids"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_check_due_shop_id_shops"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "category", name=op.f("pk_check_due")),
    )
    with op.batch_alter_table("check_due", schema=None) as batch_op:
        batch_op.create_index("ix_check_due_due_at", ["due_at", "grid_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_due_grid_id"), ["grid_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_open", ["grid_id", "state", "created_at", "due_at", "follow_up_due_at"], unique=False,
            sqlite_where=sa.text("state != 'closed'"), postgresql_where=sa.text("state != 'closed'"),
        )
    # Existing databases get their rows from `refresh_check_due` on the next
    # demo load, grid adoption or check; until then the summary counts live.


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_open")
    with op.batch_alter_table("check_due", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_due_grid_id"))
        batch_op.drop_index("ix_check_due_due_at")
    op.drop_table("check_due")
