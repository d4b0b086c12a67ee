"""The office's running of the loop: sign-in sessions, the organisation tree, the notification outbox, the working calendar, the admin log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from governance.catalog import (
    MemberRole,
    OrgLevel,
)
from governance.models.base import Base, code_enum, utcnow
from governance.spatial import UTCDateTime


class WebSession(Base):
    """One browser's sign-in: the cookie carries a random token, this row its hash.

    Ending a row (sign-out, password change, admin reset) ends that sign-in
    wherever the cookie is; the idle timeout counts from ``last_seen_at``.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrgNode(Base):
    """A node of the organisation tree (street committee ▸ district committee ▸ branch)."""

    __tablename__ = "org_nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_nodes.node_id"), index=True)
    level: Mapped[OrgLevel] = mapped_column(code_enum(OrgLevel, "org_level"))
    name: Mapped[str] = mapped_column(String(128))


class OrgNodeGrid(Base):
    """A grid a node answers for, by code: the link outlives a re-gridding that keeps the code."""

    __tablename__ = "org_node_grids"

    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("org_nodes.node_id"), index=True)


class OrgNodeShop(Base):
    """A party-member shop of a node, by shop code."""

    __tablename__ = "org_node_shops"

    shop_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("org_nodes.node_id"), index=True)


class Webhook(Base):
    """A group robot (WeCom, DingTalk) or a JSON receiver told of notifications (``linpu notify add``).

    Empty filters match everything: ``grid_code`` a grid's notices, ``role`` an
    audience (governance.outbox.AUDIENCES), ``member_kind`` a team member's kind.
    """

    __tablename__ = "notify_webhooks"
    __table_args__ = (
        CheckConstraint("format IN ('wecom', 'dingtalk', 'json')", name="format"),
        CheckConstraint("language IN ('zh', 'en')", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2), default="zh")
    grid_code: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(32))
    member_kind: Mapped[MemberRole | None] = mapped_column(code_enum(MemberRole, "webhook_member_kind"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """The outbox: one row per change someone must act on, written in the change's transaction.

    ``key`` is unique, so a clock event or digest written twice is refused by
    the database.  ``fanned_out_at`` is set when the sender has made its
    deliveries (one per matching webhook).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_unsent", "created_at", sqlite_where=text("fanned_out_at IS NULL"),
              postgresql_where=text("fanned_out_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    grid_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)
    member_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One notification to one webhook: claimed with a lease, delivered at least once.

    A sender claims a row by setting ``lease_until`` and its ``claim``; only a
    2xx answer (and ``errcode`` 0 from a robot) sets ``delivered_at``, and a
    delivered row is never claimed again.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "webhook_id", name="notification_webhook"),
        Index("ix_notification_deliveries_pending", "next_attempt_at",
              sqlite_where=text("delivered_at IS NULL"), postgresql_where=text("delivered_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(ForeignKey("notify_webhooks.id", ondelete="CASCADE"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class CalendarDay(Base):
    """A day of a year's published holiday schedule that ``linpu calendar import`` loaded.

    Only the days that differ from a plain week: holidays (working false) and
    make-up working days (调休, working true).  An imported year replaces the
    calendar library's schedule for that year (``governance.working_time``).
    """

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(64), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdminLogEntry(Base):
    """One administrative step (who, when, what, how many rows); append-only by trigger (0013)."""

    __tablename__ = "admin_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
