"""notification outbox: webhooks, notifications, deliveries

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column(
            "member_kind",
            sa.Enum("leader", "property", "security", "fire", name="webhook_member_kind",
                    native_enum=False, create_constraint=True, length=32),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("format IN ('wecom', 'dingtalk', 'json')", name=op.f("ck_notify_webhooks_format")),
        sa.CheckConstraint("language IN ('zh', 'en')", name=op.f("ck_notify_webhooks_language")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_webhooks")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("grid_codes", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("member_kinds", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fanned_out_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_notifications_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    op.create_index(op.f("ix_notifications_case_id"), "notifications", ["case_id"])
    op.create_index("ix_notifications_unsent", "notifications", ["created_at"],
                    sqlite_where=sa.text("fanned_out_at IS NULL"), postgresql_where=sa.text("fanned_out_at IS NULL"))
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_notification_deliveries_notification_id_notifications"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["webhook_id"], ["notify_webhooks.id"],
                                name=op.f("fk_notification_deliveries_webhook_id_notify_webhooks"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint("notification_id", "webhook_id", name="notification_webhook"),
    )
    op.create_index(op.f("ix_notification_deliveries_webhook_id"), "notification_deliveries", ["webhook_id"])
    op.create_index("ix_notification_deliveries_pending", "notification_deliveries", ["next_attempt_at"],
                    sqlite_where=sa.text("delivered_at IS NULL"), postgresql_where=sa.text("delivered_at IS NULL"))


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("notifications")
    op.drop_table("notify_webhooks")
