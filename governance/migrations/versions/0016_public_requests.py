"""the public side: a random public id per shop, and the orders and complaints the public placed

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    shops = sa.table("shops", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
    for (shop_id,) in bind.execute(sa.select(shops.c.id)).all():
        bind.execute(shops.update().where(shops.c.id == shop_id).values(public_id=secrets.token_urlsafe(9)))
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_shops_public_id"), ["public_id"])
    op.create_table(
        "public_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("order", "complaint", name="public_kind", native_enum=False,
                                  create_constraint=True, length=32), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("short_code", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("hidden_at", UTCDateTime(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_public_requests_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_public_requests_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_public_requests_token_hash")),
        sa.UniqueConstraint("short_code", name=op.f("uq_public_requests_short_code")),
    )
    for column in ("case_id", "shop_id", "phone", "client_hash", "created_at"):
        op.create_index(op.f(f"ix_public_requests_{column}"), "public_requests", [column], unique=False)


def downgrade() -> None:
    for column in ("case_id", "shop_id", "phone", "client_hash", "created_at"):
        op.drop_index(op.f(f"ix_public_requests_{column}"), table_name="public_requests")
    op.drop_table("public_requests")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_shops_public_id"), type_="unique")
        batch_op.drop_column("public_id")
