"""at most one current grid generation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "ux_grid_generations_one_current"


def upgrade() -> None:
    # A database that already holds two current generations (a second demo load
    # did that) keeps the newest current, the one every read already chose.
    op.execute(
        "UPDATE grid_generations SET is_current = false WHERE is_current "
        "AND id < (SELECT max(id) FROM grid_generations WHERE is_current)"
    )
    # A partial unique index: every row with is_current true has the same key,
    # so a second one is refused by the database itself, on both backends.
    op.create_index(
        INDEX, "grid_generations", ["is_current"], unique=True,
        sqlite_where=sa.text("is_current"), postgresql_where=sa.text("is_current"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="grid_generations")
