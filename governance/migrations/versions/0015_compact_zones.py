"""the merchant-resident compact: zone hours and frontage shops on district features, a case's occupation check

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0016"
branch_labels = None
depends_on = None

OCCUPATION = ("permitted", "outside_zone", "outside_hours")


def upgrade() -> None:
    with op.batch_alter_table("district_features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("shop_code", sa.String(length=64), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "occupation",
            sa.Enum(*OCCUPATION, name="case_occupation", native_enum=False, create_constraint=True, length=32),
            nullable=True,
        ))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint("case_occupation", type_="check")
        batch_op.drop_column("occupation")
    with op.batch_alter_table("district_features", schema=None) as batch_op:
        batch_op.drop_column("shop_code")
        batch_op.drop_column("hours")
