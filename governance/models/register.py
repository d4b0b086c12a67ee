"""The district, its grid generations and grids, the people and their teams, the shop register and badges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from governance.catalog import (
    Badge,
    MemberRole,
    Role,
    StreetClass,
    Trade,
)
from governance.models.base import Base, code_enum, new_public_id, utcnow
from governance.spatial import Geometry, UTCDateTime


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
    """The district's own map: boundary, street centre lines, and the compact's zones and service points."""

    __tablename__ = "district_features"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: boundary, street, frontage, stall or service_point (governance.district.LAYER_KINDS)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    street_class: Mapped[StreetClass | None] = mapped_column(code_enum(StreetClass, "street_class"))
    #: Stall zones and service points: when they are open, in OpenStreetMap's opening_hours syntax.
    hours: Mapped[str | None] = mapped_column(String(255))
    #: Frontage zones: the shop whose frontage (门前三包) it is, by its code.
    shop_code: Mapped[str | None] = mapped_column(String(64))
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
    #: Set for a one-time password (import, reset): the next sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phone: Mapped[str | None] = mapped_column(String(32))


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
    #: The key of the shop's public page and board QR code; never the internal shop_code.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)

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
