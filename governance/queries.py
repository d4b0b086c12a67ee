"""Listings the pages and exports share, scoped by the viewer: cases, a case's history,
hazard checks, open shops, a grid's team and the district's features.

Each returns a (Geo)DataFrame so that pages only render.  A grid leader's
call never returns rows of another grid: the scope is part of every SQL
statement, not a filter applied afterwards.  Map points are chosen by the
query (``limit``), and geometries are decoded in one vectorised call.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from governance.catalog import CaseState
from governance.clock import clock
from governance.errors import NotFoundError
from governance.filters import CaseFilter, case_conditions, codes_of
from governance.grids import current_generation_id, grid_scope
from governance.models import (
    Attachment,
    Case,
    CaseHistory,
    DistrictFeature,
    Grid,
    GridMember,
    HazardCheck,
    Shop,
    ShopBadge,
    User,
)
from governance.permissions import Viewer, require_grid
from governance.phones import phone_for
from governance.rows import code_texts, frame_of, geo_frame_of, raw, utc_times
from governance.sla import overdue_condition
from governance.spatial import ewkb, from_ewkb


def open_shops(session: Session, viewer: Viewer, *, grid_codes: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Open shops in scope (of these grids, when given) with grid code, party-member flag and active badges.

    ``trade`` is Linpu's code ("" when the register's word maps to none), ``trade_label`` the
    office's own word; ``phone`` is masked unless the viewer is the admin (``governance.phones``).
    """
    scope = grid_scope(session, viewer, tuple(grid_codes))
    rows = session.execute(
        select(
            Shop.id, Shop.shop_code, Shop.name, Shop.trade, Shop.trade_label, Grid.code,
            Shop.party_member_operator, Shop.address, Shop.phone, ewkb(Shop.geometry),
        )
        .join(Grid, Grid.id == Shop.grid_id)
        .where(Shop.closed_at.is_(None), scope)
        .order_by(Shop.shop_code)
    ).all()
    frame = frame_of(
        rows, columns=["shop_id", "shop_code", "name", "trade", "trade_label", "grid_code", "party_member_operator",
                       "address", "phone", "geometry"]
    )
    frame["geometry"] = from_ewkb(frame["geometry"].tolist())
    badges = frame_of(
        session.execute(
            select(ShopBadge.shop_id, ShopBadge.badge)
            .join(Shop, Shop.id == ShopBadge.shop_id)
            .join(Grid, Grid.id == Shop.grid_id)
            .where(ShopBadge.revoked_at.is_(None), scope)
            .order_by(ShopBadge.shop_id, ShopBadge.badge)
        ).all(),
        columns=["shop_id", "badge"],
    )
    by_shop = badges.assign(badge=badges["badge"].map(str)).groupby("shop_id")["badge"].agg(list)
    frame.insert(frame.columns.get_loc("geometry"), "badges", [by_shop.get(shop_id, []) for shop_id in frame["shop_id"]])
    frame["trade"] = frame["trade"].map(lambda trade: "" if trade is None or trade != trade else str(trade))
    for column in ("trade_label", "address"):
        frame[column] = frame[column].fillna("")
    frame["phone"] = [phone_for(viewer, phone) for phone in frame["phone"]]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


def district_features(session: Session, *, kinds: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
    """Boundary and streets, drawn under the grids in place of a basemap (public to every viewer).

    ``kinds`` keeps those kinds only (``governance.district.LAYER_KINDS``' values), so a
    reader of one layer does not read the district's thousands of streets besides.
    """
    query = (select(DistrictFeature.kind, DistrictFeature.name, DistrictFeature.street_class,
                    ewkb(DistrictFeature.geometry))
             .order_by(DistrictFeature.id))
    if kinds is not None:
        query = query.where(DistrictFeature.kind.in_(kinds))
    rows = session.execute(query).all()
    return geo_frame_of(rows, ["kind", "name", "street_class"])


def cases_frame(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None,
                now: datetime | None = None, limit: int | None = None,
                urgent_first: bool = False) -> gpd.GeoDataFrame:
    """The cases in scope, newest first, with ``overdue`` computed at ``now``.

    ``urgent_first`` puts overdue cases before the others (newest first within
    each); ``limit`` keeps that many rows, chosen in the database, so a map of
    a city's open cases reads a few thousand rows, not every one.
    """
    now = clock(now)
    overdue = overdue_condition(now)
    conditions = [grid_scope(session, viewer, codes_of(filters)), *case_conditions(filters)]
    if filters and filters.states and CaseState.CLOSED.value not in filters.states:
        # Spelled as in the partial index ix_cases_open, so both databases use it.
        conditions.append(Case.state.op("!=")(literal_column("'closed'")))
    order = [Case.created_at.desc(), Case.id.desc()]
    if urgent_first:
        order.insert(0, case((overdue, 0), else_=1))
    # Core, not the ORM's row loading, and times and codes raw, converted per column below.
    rows = session.connection().execute(
        select(
            Case.id, Case.case_no, raw(Case.kind), raw(Case.category), raw(Case.severity), Case.title,
            Case.description, raw(Case.state), raw(Case.outcome), Grid.code, Shop.shop_code, Shop.name,
            User.display_name, raw(Case.created_at), raw(Case.due_at), raw(Case.follow_up_due_at),
            raw(Case.closed_at), Case.reopen_count, Case.department, raw(Case.occupation), overdue,
            Case.version, ewkb(Case.geometry),
        )
        .join(Grid, Grid.id == Case.grid_id)
        .outerjoin(Shop, Shop.id == Case.shop_id)
        .outerjoin(User, User.id == Case.reporter_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    ).all()
    frame = geo_frame_of(rows, [
        "case_id", "case_no", "kind", "category", "severity", "title", "description", "state", "outcome",
        "grid_code", "shop_code", "shop_name", "reporter", "created_at", "due_at", "follow_up_due_at",
        "closed_at", "reopen_count", "department", "occupation", "overdue", "version",
    ])
    for name in ("created_at", "due_at", "follow_up_due_at", "closed_at"):
        frame[name] = utc_times(frame[name])
    for name in ("kind", "category", "severity", "state", "outcome", "occupation"):
        frame[name] = code_texts(frame[name])
    frame["overdue"] = frame["overdue"].fillna(False).astype(bool)
    return frame


def case_timeline(session: Session, viewer: Viewer, case_id: int) -> pd.DataFrame:
    """The history of one case: seq, at, actor, action, from_state, to_state, note, n_attachments."""
    grid_id = session.scalar(select(Case.grid_id).where(Case.id == case_id))
    if grid_id is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_grid(viewer, grid_id)
    n_attachments = (
        select(func.count(Attachment.id)).where(Attachment.history_id == CaseHistory.id).scalar_subquery()
    )
    rows = session.execute(
        select(
            CaseHistory.seq, CaseHistory.at, User.display_name, CaseHistory.details, CaseHistory.action,
            CaseHistory.from_state, CaseHistory.to_state, CaseHistory.note, n_attachments,
        )
        .outerjoin(User, User.id == CaseHistory.actor_id)
        .where(CaseHistory.case_id == case_id)
        .order_by(CaseHistory.seq)
    ).all()
    records = [
        {
            "seq": seq, "at": at, "actor": name or (details or {}).get("actor") or "", "action": action,
            "from_state": None if src is None else str(src), "to_state": str(dst), "note": note,
            "n_attachments": int(n or 0),
        }
        for seq, at, name, details, action, src, dst, note, n in rows
    ]
    return pd.DataFrame(records, columns=[
        "seq", "at", "actor", "action", "from_state", "to_state", "note", "n_attachments",
    ])


def checks_frame(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None) -> gpd.GeoDataFrame:
    """Hazard checks in scope: check_no, shop_code, category, performed_at, passed, failed_items, inspector, case_no."""
    conditions = [grid_scope(session, viewer, codes_of(filters))]
    if filters:
        if filters.start:
            conditions.append(HazardCheck.performed_at >= filters.start)
        if filters.end:
            conditions.append(HazardCheck.performed_at < filters.end)
        if filters.categories:
            conditions.append(HazardCheck.category.in_(list(filters.categories)))
    rows = session.execute(
        select(
            HazardCheck.check_no, Shop.shop_code, Grid.code, HazardCheck.category, HazardCheck.performed_at,
            HazardCheck.passed, HazardCheck.answers, User.display_name, Case.case_no, ewkb(Shop.geometry),
        )
        .join(Shop, Shop.id == HazardCheck.shop_id)
        .join(Grid, Grid.id == Shop.grid_id)
        .outerjoin(User, User.id == HazardCheck.inspector_id)
        .outerjoin(Case, Case.id == HazardCheck.case_id)
        .where(*conditions)
        .order_by(HazardCheck.performed_at.desc())
    ).all()
    records = [
        (no, shop, grid, str(cat), at, bool(passed), ";".join(k for k, ok in (answers or {}).items() if not ok),
         inspector, case_no, geometry)
        for no, shop, grid, cat, at, passed, answers, inspector, case_no, geometry in rows
    ]
    return geo_frame_of(records, [
        "check_no", "shop_code", "grid_code", "category", "performed_at", "passed", "failed_items", "inspector",
        "case_no",
    ])


def grid_team(session: Session, viewer: Viewer, grid_code: str) -> pd.DataFrame:
    """The leader and the property, security and fire members of a current grid."""
    grid_id = session.scalar(
        select(Grid.id).where(Grid.generation_id == current_generation_id(session), Grid.code == grid_code)
    )
    if grid_id is None:
        raise NotFoundError(f"no current grid with code {grid_code!r}")
    require_grid(viewer, grid_id)
    order = {"leader": 0, "property": 1, "security": 2, "fire": 3}
    rows = session.execute(
        select(GridMember.role, GridMember.name, GridMember.phone, User.username)
        .outerjoin(User, User.id == GridMember.user_id)
        .where(GridMember.grid_id == grid_id)
    ).all()
    frame = frame_of(rows, columns=["role", "name", "phone", "username"])
    frame["role"] = frame["role"].map(str)
    frame["phone"] = [phone_for(viewer, phone) for phone in frame["phone"]]
    frame["username"] = frame["username"].fillna("")  # a member without an account: no "None" in the table
    frame = frame.sort_values(["role", "name"], key=lambda s: s.map(order) if s.name == "role" else s)
    return frame.reset_index(drop=True)
