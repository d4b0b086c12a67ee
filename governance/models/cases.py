"""Cases and their history, photos, ratings, hazard checks, routine-check schedules and dues, the stored loop figures, the public's requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from governance.catalog import (
    CaseKind,
    CaseState,
    Category,
    OccupationCheck,
    Outcome,
    PublicKind,
    Severity,
    SubTaskState,
    Trade,
)
from governance.models.base import Base, code_enum, utcnow
from governance.models.register import Grid, Shop, User
from governance.spatial import Geometry, UTCDateTime


class Case(Base):
    """A patrol finding, a failed hazard check or a service request, and its loop."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "(state = 'closed') = (outcome IS NOT NULL)", name="outcome_iff_closed"
        ),
        # A grid's cases by state, and what the median time to close of a grid (and of a
        # category in it) reads when a step recounts it (governance.figures.count_step).
        Index("ix_cases_grid_closed", "grid_id", "state", "category", "created_at", "closed_at"),
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
    #: Road-occupation findings only: checked against the stall zones when filed (governance.compact).
    occupation: Mapped[OccupationCheck | None] = mapped_column(code_enum(OccupationCheck, "case_occupation"))
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


class PublicRequest(Base):
    """An order or complaint the public placed on a shop's page: the case it filed and how it is followed.

    Only the tracking token's hash is kept; the short code with the phone finds a lost link.
    """

    __tablename__ = "public_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    kind: Mapped[PublicKind] = mapped_column(code_enum(PublicKind, "public_kind"))
    #: One of catalog.SERVICE_CATEGORIES when the order asks for a service (the case is then "other").
    service: Mapped[str | None] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    short_code: Mapped[str] = mapped_column(String(16), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    #: A keyed hash of the client address: enough to count a day's orders, not to tell the address.
    client_hash: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(2), default="zh")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
