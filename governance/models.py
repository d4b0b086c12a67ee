"""The stored record: shops, grids, people, cases and their history.

Typed SQLAlchemy 2 models.  The schema itself is created and upgraded only
by the Alembic migrations in ``governance/migrations`` (``linpu db upgrade``);
a test checks that the migrations and these models agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from governance.catalog import (
    Badge,
    CaseKind,
    CaseState,
    Category,
    MemberRole,
    OrgLevel,
    Outcome,
    Role,
    Severity,
    StreetClass,
    SubTaskState,
    Trade,
)
from governance.spatial import Geometry, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def code_enum(enum: type[StrEnum], name: str) -> SAEnum:
    """A VARCHAR holding the enum's value, with a CHECK so a typo cannot be stored."""
    return SAEnum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class GridGeneration(Base):
    """One run of the gridding (or one import of official grids)."""

    __tablename__ = "grid_generations"
    # At most one current generation: every row with is_current true has the same key.
    __table_args__ = (
        Index("ux_grid_generations_one_current", "is_current", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")


class DistrictFeature(Base):
    """The district boundary and street centre lines: the map's own basemap."""

    __tablename__ = "district_features"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "boundary" or "street"
    name: Mapped[str] = mapped_column(String(128), default="")
    street_class: Mapped[StreetClass | None] = mapped_column(code_enum(StreetClass, "street_class"))
    geometry: Mapped[Any] = mapped_column(Geometry("GEOMETRY"))


class Grid(Base):
    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("generation_id", "code", name="generation_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("grid_generations.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128), default="")
    n_shops: Mapped[int] = mapped_column(Integer, default=0)
    is_building: Mapped[bool] = mapped_column(Boolean, default=False)
    geometry: Mapped[Any] = mapped_column(Geometry("GEOMETRY"))

    generation: Mapped[GridGeneration] = relationship()
    members: Mapped[list[GridMember]] = relationship(back_populates="grid")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(code_enum(Role, "user_role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A supervisor limited to one node of the organisation tree (its ``node_id``); None: the district.
    scope: Mapped[str | None] = mapped_column(String(64))
    #: A member's kind (property, security, fire); the department a ``department`` account works for.
    member_kind: Mapped[MemberRole | None] = mapped_column(code_enum(MemberRole, "user_member_kind"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)


class Department(Base):
    """A department (部门) taking dispatched orders; its people are ``department`` accounts.
    ``default_for``: service categories prefilled in the dispatch form; ``auto_for``: dispatched without one."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    default_for: Mapped[list[str]] = mapped_column(JSON, default=list)
    auto_for: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GridMember(Base):
    """The grid leader and the property, security and fire-safety members."""

    __tablename__ = "grid_members"
    __table_args__ = (UniqueConstraint("grid_id", "role", "name", name="grid_role_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(code_enum(MemberRole, "member_role"))
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32), default="")

    grid: Mapped[Grid] = relationship(back_populates="members")
    user: Mapped[User | None] = relationship()


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    #: The Linpu trade (None: the office's word is not in governance.trades' table).
    trade: Mapped[Trade | None] = mapped_column(code_enum(Trade, "shop_trade"))
    #: The office's own trade word, as the register wrote it.
    trade_label: Mapped[str | None] = mapped_column(String(64))
    #: From a 用气 column; None: the trade decides whether the gas check applies.
    uses_gas: Mapped[bool | None] = mapped_column(Boolean)
    address: Mapped[str | None] = mapped_column(String(255))
    #: Shown masked (138****1234) to everyone but the admin.
    phone: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(String(128), default="")
    party_member_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    geometry: Mapped[Any] = mapped_column(Geometry("POINT"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    grid: Mapped[Grid | None] = relationship()
    badges: Mapped[list[ShopBadge]] = relationship(back_populates="shop")


class ShopBadge(Base):
    """One award of a badge; revoking fills the revoked_* fields, keeping the row."""

    __tablename__ = "shop_badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    badge: Mapped[Badge] = mapped_column(code_enum(Badge, "badge"))
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_reason: Mapped[str | None] = mapped_column(Text)

    shop: Mapped[Shop] = relationship(back_populates="badges")


class Case(Base):
    """A patrol finding, a failed hazard check or a service request, and its loop."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "(state = 'closed') = (outcome IS NOT NULL)", name="outcome_iff_closed"
        ),
        Index("ix_cases_grid_state", "grid_id", "state"),
        # Open cases only, covering what the loop summary reads: its per-grid
        # open counts scan this small index instead of a million-row table.
        Index(
            "ix_cases_open", "grid_id", "state", "created_at", "due_at", "follow_up_due_at",
            sqlite_where=text("state != 'closed'"), postgresql_where=text("state != 'closed'"),
        ),
        # Covering what a filtered loop summary and the trend series count, led by
        # category then creation time: a category or date filter reads a range of
        # this narrow index instead of the wide case rows (see governance.queries).
        Index(
            "ix_cases_facts", "category", "created_at", "grid_id", "state", "due_at", "resolved_at",
            "closed_at", "reopen_count",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[CaseKind] = mapped_column(code_enum(CaseKind, "case_kind"))
    category: Mapped[Category] = mapped_column(code_enum(Category, "case_category"))
    severity: Mapped[Severity] = mapped_column(code_enum(Severity, "case_severity"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    geometry: Mapped[Any] = mapped_column(Geometry("POINT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[CaseState] = mapped_column(code_enum(CaseState, "case_state"), index=True)
    outcome: Mapped[Outcome | None] = mapped_column(code_enum(Outcome, "case_outcome"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    follow_up_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    department: Mapped[str | None] = mapped_column(String(128))
    #: The department the order is dispatched to; None: none, or by name only (before migration 0014).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: The order's acceptance deadline; the department's own one from its acceptance (due_at stays the grid's).
    accept_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requester: Mapped[str | None] = mapped_column(String(128))
    #: When the case last moved to follow-up; judged against due_at for 按期结案率.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How often the case was reopened; a reopened case never counts as closed on time.
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1)

    grid: Mapped[Grid] = relationship()
    shop: Mapped[Shop | None] = relationship()
    reporter: Mapped[User | None] = relationship()
    history: Mapped[list[CaseHistory]] = relationship(
        back_populates="case", order_by="CaseHistory.seq"
    )

    __mapper_args__ = {"version_id_col": version}


class CaseHistory(Base):
    """Append-only: one row per transition, written with the state change."""

    __tablename__ = "case_history"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="case_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[CaseState | None] = mapped_column(code_enum(CaseState, "history_from"))
    to_state: Mapped[CaseState] = mapped_column(code_enum(CaseState, "history_to"))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="history")
    actor: Mapped[User | None] = relationship()


class SubTask(Base):
    """A part of a case given to a team member or a department, with its own clock and history."""
    __tablename__ = "sub_tasks"
    __table_args__ = (CheckConstraint("(assignee_id IS NULL) != (department_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    state: Mapped[SubTaskState] = mapped_column(code_enum(SubTaskState, "sub_task_state"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class SubTaskHistory(Base):
    """Append-only: one row per change of a sub-task (given, done, returned, handed back)."""
    __tablename__ = "sub_task_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    sub_task_id: Mapped[int] = mapped_column(ForeignKey("sub_tasks.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[SubTaskState | None] = mapped_column(code_enum(SubTaskState, "sub_task_from"))
    to_state: Mapped[SubTaskState] = mapped_column(code_enum(SubTaskState, "sub_task_to"))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoopFigures:
    """The closed-work figures a grid keeps (governance.stats.FIGURES), as columns."""

    total: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    closed_on_time: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    median_days_to_close: Mapped[float | None] = mapped_column(Float)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)


class GridStats(LoopFigures, Base):
    """Per-grid figures of closed work, kept current by every write of governance.

    The loop summary over thousands of grids and a million cases cannot
    aggregate every closed case per request within its budget, so the parts
    that only change when a case closes, reopens, moves or is rated are kept
    here, recomputed for one grid in the transaction that changes it.  Open
    counts and overdue depend on the clock and are computed live.
    """

    __tablename__ = "grid_stats"

    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)


class GridCategoryStats(LoopFigures, Base):
    """GridStats per case category, for the loop summary filtered to one category.

    A grid has either no rows here (its figures are then counted live) or one
    row per category, all current: ``refresh_grid_stats`` writes them with the
    grid's row, and raising a case counts it in both.
    """

    __tablename__ = "grid_category_stats"

    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[Category] = mapped_column(code_enum(Category, "grid_category_stats_category"),
                                               primary_key=True)


class CheckDue(Base):
    """When each routine check of each open shop next falls due (kept by governance.stats).

    One row per (shop, applicable check category).  ``applies_until`` bounds a
    construction check to its renovation: NULL while a construction case of
    the shop is open, else the last construction check plus the renovation
    window.  Kept so that the loop summary counts due and overdue checks per
    grid with an index range scan instead of joining every shop to its checks.
    """

    __tablename__ = "check_due"
    __table_args__ = (Index("ix_check_due_due_at", "due_at", "grid_id"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[Category] = mapped_column(code_enum(Category, "check_due_category"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applies_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A photo, stored on disk by content hash; the row keeps what was checked."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    history_id: Mapped[int | None] = mapped_column(ForeignKey("case_history.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """The requester's 1–5 rating of a service request (群众评单)."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rated_by: Mapped[str] = mapped_column(String(128), default="")


class HazardCheck(Base):
    """One routine check of one shop against a category's checklist."""

    __tablename__ = "hazard_checks"
    __table_args__ = (
        Index("ix_hazard_checks_shop_category", "shop_id", "category", "performed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_no: Mapped[str] = mapped_column(String(64), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    category: Mapped[Category] = mapped_column(code_enum(Category, "check_category"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    passed: Mapped[bool] = mapped_column(Boolean)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: deleting or looking up a case otherwise scans every check.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")

    shop: Mapped[Shop] = relationship()


class CheckSchedule(Base):
    """How often a category is checked; a trade-specific row beats the general one."""

    __tablename__ = "check_schedules"
    __table_args__ = (UniqueConstraint("category", "trade", name="category_trade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[Category] = mapped_column(code_enum(Category, "schedule_category"))
    trade: Mapped[Trade | None] = mapped_column(code_enum(Trade, "schedule_trade"))
    interval_days: Mapped[int] = mapped_column(Integer)


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
