"""the organisation tree, its grids and shops, and a supervisor's scope

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_nodes",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column(
            "level",
            sa.Enum("street_committee", "district_committee", "branch", name="org_level",
                    native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["org_nodes.node_id"],
                                name=op.f("fk_org_nodes_parent_id_org_nodes")),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_org_nodes")),
    )
    op.create_index(op.f("ix_org_nodes_parent_id"), "org_nodes", ["parent_id"])
    for table, key in (("org_node_grids", "grid_code"), ("org_node_shops", "shop_code")):
        op.create_table(
            table,
            sa.Column(key, sa.String(length=32 if key == "grid_code" else 64), nullable=False),
            sa.Column("node_id", sa.String(length=64), nullable=False),
            sa.ForeignKeyConstraint(["node_id"], ["org_nodes.node_id"],
                                    name=op.f(f"fk_{table}_node_id_org_nodes")),
            sa.PrimaryKeyConstraint(key, name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_node_id"), table, ["node_id"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("scope")
    for table in ("org_node_shops", "org_node_grids"):
        op.drop_index(op.f(f"ix_{table}_node_id"), table_name=table)
        op.drop_table(table)
    op.drop_index(op.f("ix_org_nodes_parent_id"), table_name="org_nodes")
    op.drop_table("org_nodes")
