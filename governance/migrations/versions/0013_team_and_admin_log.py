"""the team and the office's daily operation: forced password change, account phone, the admin log

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-05 08:00:00

The admin log is append-only: a trigger refuses UPDATE and DELETE on both
backends, so not even a script with the app's database rights can rewrite it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None

REFUSAL = "admin_log is append-only"


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_log")),
    )
    op.create_index(op.f("ix_admin_log_at"), "admin_log", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION admin_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$""")
        op.execute("CREATE TRIGGER admin_log_append_only BEFORE UPDATE OR DELETE ON admin_log "
                   "FOR EACH ROW EXECUTE FUNCTION admin_log_refuse()")
        # TRUNCATE fires no row trigger; refuse it per statement.
        op.execute("CREATE TRIGGER admin_log_no_truncate BEFORE TRUNCATE ON admin_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION admin_log_refuse()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER admin_log_no_{event.lower()} BEFORE {event} ON admin_log "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE admin_log")
        op.execute("DROP FUNCTION admin_log_refuse()")
    else:
        op.drop_table("admin_log")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("must_change_password")
