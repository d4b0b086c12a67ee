"""When each routine check of each open shop next falls due: the rules, the kept copy, the reads.

The rules: every open shop gets the checks of its trade
(``governance.checklists``), at the interval of the check schedule (a
``check_schedules`` row for the category and trade, else for the category,
else the catalogue's default); a shop never checked is due from its opening;
construction checks apply only while a renovation is under way (an open
construction case names the shop, or a construction check within
``RENOVATION_WINDOW``).

The kept copy, ``check_due``, is written by :func:`refresh_check_due`.  The
workflow, grid adoption and the demo load call it for what they touched;
bulk writes of shops or hazard checks outside them (imports) mark the
session *stale* (:func:`note_bulk_write`), and :func:`refresh_if_stale`
recomputes every shop before that session commits.  ``governance.db``
registers both on every session, so no importer has to know.

The reads (:func:`checks_due_counts`, :func:`checks_due`,
:func:`checks_due_frame`) use the kept copy when it has been filled and
count live by the same rules otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import (
    Boolean,
    Float,
    String,
    and_,
    case,
    column,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    union,
    values,
)
from sqlalchemy.orm import Session

from governance.catalog import OPEN_STATES, Category, Trade
from governance.checklists import CHECK_INTERVALS, GAS_TRADES, categories_for_trade
from governance.clock import clock
from governance.grids import grid_ids_in_scope, grid_scope
from governance.models import Case, CheckDue, CheckSchedule, Grid, HazardCheck, Shop
from governance.rows import frame_of
from governance.spatial import UTCDateTime
from governance.viewer import Viewer

#: Checks falling due within this window are "due"; past their time, "overdue".
CHECKS_DUE_WINDOW = timedelta(days=7)
#: Construction checks apply while a renovation is under way: an open construction
#: case or a construction check within this time.
RENOVATION_WINDOW = timedelta(days=30)
#: The session flag that bulk writes of shops or hazard checks set.
STALE_FLAG = "check_due_stale"
#: Tables whose bulk writes leave check_due stale.
WATCHED_TABLES = ("shops", "hazard_checks")


def note_bulk_write(session: Session, table_name: str | None) -> None:
    """Mark the session's check_due stale after a bulk write to a watched table."""
    if table_name in WATCHED_TABLES:
        session.info[STALE_FLAG] = True


def refresh_if_stale(session: Session) -> None:
    """Recompute every shop's checks due if a bulk write marked the session stale."""
    if session.info.pop(STALE_FLAG, False):
        refresh_check_due(session)


def check_intervals(session: Session) -> dict[tuple[str, str | None], timedelta]:
    """(category, trade or None) -> interval: the catalogue's defaults overlaid by the stored schedules."""
    intervals = {(str(c), None): d for c, d in CHECK_INTERVALS.items()}
    for category, trade, days in session.execute(
        select(CheckSchedule.category, CheckSchedule.trade, CheckSchedule.interval_days)
    ).all():
        intervals[(str(category), None if trade is None else str(trade))] = timedelta(days=days)
    return intervals


def _check_rules(session: Session, now: datetime):
    """A VALUES table of (trade, category, interval_days, overdue_before, soon_before).

    A check is overdue when its base time (last check, or opening for a shop
    never checked) is before ``overdue_before`` = now - interval; due soon when
    before ``soon_before`` = now + CHECKS_DUE_WINDOW - interval.  Thresholds
    are computed here so the database only compares times, the same on both
    backends.
    """
    intervals = check_intervals(session)
    rows = []
    for trade in (*Trade, None):  # None: a shop whose trade word no rule knows
        code = "" if trade is None else trade.value
        for category in categories_for_trade(trade, uses_gas=True, under_renovation=True):
            interval = intervals.get((category.value, code or None), intervals[(category.value, None)])
            rows.append((code, category.value, trade in GAS_TRADES, interval.total_seconds() / 86400,
                         now - interval, now + CHECKS_DUE_WINDOW - interval))
    return values(
        column("trade", String(32)), column("category", String(32)), column("gas_by_trade", Boolean()),
        column("interval_days", Float()),
        column("overdue_before", UTCDateTime()), column("soon_before", UTCDateTime()), name="check_rules",
    ).data(rows).cte("check_rules")  # a CTE: SQLite cannot alias (VALUES ...) columns in FROM


def _check_pairs(session: Session, viewer: Viewer, now: datetime, grid_codes=()):
    """(FROM/WHERE pieces) every open shop in scope joined to each check that applies to it."""
    scope = grid_scope(session, viewer, tuple(grid_codes))
    rules = _check_rules(session, now)
    shops_in_scope = select(Shop.id).join(Grid, Grid.id == Shop.grid_id).where(scope)
    last = (
        select(HazardCheck.shop_id, HazardCheck.category, func.max(HazardCheck.performed_at).label("last"))
        .where(HazardCheck.shop_id.in_(shops_in_scope))
        .group_by(HazardCheck.shop_id, HazardCheck.category)
        .subquery("last_checks")
    )
    # Construction checks apply only while a renovation is under way.  Asked of the shops
    # in scope only: a grid leader's page reads its ten shops' cases by their index, not
    # every construction case of the district (0.6 s at city scale).
    renovating = union(
        select(Case.shop_id).where(
            Case.shop_id.in_(shops_in_scope), Case.category == Category.CONSTRUCTION,
            Case.state.in_(list(OPEN_STATES)),
        ),
        select(HazardCheck.shop_id).where(
            HazardCheck.shop_id.in_(shops_in_scope), HazardCheck.category == Category.CONSTRUCTION,
            HazardCheck.performed_at >= now - RENOVATION_WINDOW,
        ),
    )
    # Never checked: due from the day the shop opened, so it shows up at once.
    base = func.coalesce(last.c.last, Shop.opened_at, type_=UTCDateTime())

    def select_from(*columns):
        return (
            select(*columns)
            .select_from(Shop)
            .join(Grid, Grid.id == Shop.grid_id)
            .join(rules, rules.c.trade == func.coalesce(type_coerce(Shop.trade, String), ""))
            .outerjoin(last, and_(last.c.shop_id == Shop.id, last.c.category == rules.c.category))
            .where(
                Shop.closed_at.is_(None), scope,
                or_(rules.c.category != Category.CONSTRUCTION.value, Shop.id.in_(renovating)),
                # The gas check: the register's 用气 column decides, else the trade.
                or_(rules.c.category != Category.GAS.value, Shop.uses_gas.is_(True),
                    and_(Shop.uses_gas.is_(None), rules.c.gas_by_trade)),
            )
        )

    return select_from, rules, last, base


def checks_due_counts(session: Session, viewer: Viewer, *, now: datetime | None = None,
                      grid_codes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per grid in scope (index grid_id): checks_due (within CHECKS_DUE_WINDOW, not yet
    overdue) and checks_overdue, as in the loop summary.

    Read from ``check_due`` (kept by ``refresh_check_due``): a range scan over
    the checks due before the window's end.  A database whose ``check_due``
    was never filled is counted live, with the same rules.
    """
    now = clock(now)
    if session.scalar(select(CheckDue.shop_id).limit(1)) is None:
        return _live_checks_due_counts(session, viewer, now, grid_codes)
    conditions = [
        CheckDue.due_at < now + CHECKS_DUE_WINDOW,
        or_(CheckDue.applies_until.is_(None), CheckDue.applies_until >= now),
    ]
    if not viewer.is_district_wide or grid_codes:
        conditions.append(CheckDue.grid_id.in_(grid_ids_in_scope(session, viewer, tuple(grid_codes))))
    rows = session.connection().execute(  # Core: no ORM row overhead on a hot path
        select(
            CheckDue.grid_id,
            func.sum(case((CheckDue.due_at >= now, 1), else_=0)),
            func.sum(case((CheckDue.due_at < now, 1), else_=0)),
        )
        .where(*conditions)
        .group_by(CheckDue.grid_id)
    ).all()
    return frame_of(rows, columns=["grid_id", "checks_due", "checks_overdue"]).set_index("grid_id")


def _live_checks_due_counts(session: Session, viewer: Viewer, now: datetime, grid_codes=()) -> pd.DataFrame:
    select_from, rules, _, base = _check_pairs(session, viewer, now, grid_codes)
    rows = session.execute(
        select_from(
            Shop.grid_id,
            func.sum(case((and_(base >= rules.c.overdue_before, base < rules.c.soon_before), 1), else_=0)),
            func.sum(case((base < rules.c.overdue_before, 1), else_=0)),
        ).group_by(Shop.grid_id)
    ).all()
    return frame_of(rows, columns=["grid_id", "checks_due", "checks_overdue"]).set_index("grid_id")


def checks_due_frame(session: Session, viewer: Viewer, now: datetime, *, grid_codes=()) -> pd.DataFrame:
    """Every (open shop, applicable check) in scope with its last check and next due time."""
    select_from, rules, last, _ = _check_pairs(session, viewer, now, grid_codes)
    rows = session.execute(
        select_from(Shop.shop_code, Shop.name, Grid.id, Grid.code, rules.c.category, last.c.last,
                    Shop.opened_at, rules.c.interval_days)
    ).all()
    due = frame_of(rows, columns=["shop_code", "shop_name", "grid_id", "grid_code", "category",
                                      "last_checked_at", "opened_at", "interval_days"])
    last_at = pd.to_datetime(due["last_checked_at"], utc=True)
    base = last_at.fillna(pd.to_datetime(due["opened_at"], utc=True))
    due["due_at"] = base + pd.to_timedelta(due["interval_days"].astype(float), unit="D")
    due["overdue"] = (due["due_at"] < pd.Timestamp(now)).astype(bool)
    due["last_checked_at"] = last_at
    return due[["shop_code", "shop_name", "grid_id", "grid_code", "category", "last_checked_at", "due_at",
                "overdue"]]


def checks_due(session: Session, viewer: Viewer, *, now: datetime | None = None) -> pd.DataFrame:
    """Routine checks in scope: shop_code, shop_name, grid_code, category, last_checked_at, due_at, overdue.

    Soonest due first; ``last_checked_at`` is NaT for a shop never checked.
    """
    now = clock(now)
    due = checks_due_frame(session, viewer, now)
    return due.sort_values(["due_at", "shop_code"]).reset_index(drop=True)[
        ["shop_code", "shop_name", "grid_code", "category", "last_checked_at", "due_at", "overdue"]
    ]


def refresh_check_due(session: Session, shop_ids: Iterable[int] | None = None) -> None:
    """Recompute when each routine check of these shops (every shop when None) next falls due.

    Call after writing shops, hazard checks or construction cases outside the
    workflow (imports); the workflow, grid adoption and the demo load call it
    themselves.  Rules as in this module's docstring: the checks of the shop's
    trade, never-checked ones due from the shop's opening; construction only
    while an open construction case names the shop or within the renovation
    window after a construction check.
    """
    session.flush()
    ids = None if shop_ids is None else sorted({int(s) for s in shop_ids if s is not None})
    if ids == []:
        return
    shops, last, renovating = _due_inputs(session, ids)
    intervals = check_intervals(session)
    construction = Category.CONSTRUCTION.value
    records = []
    for shop_id, trade, uses_gas, opened_at, grid_id in shops:
        categories = [c.value for c in categories_for_trade(trade, uses_gas=uses_gas)]
        applies_until = {}
        if shop_id in renovating:
            categories.append(construction)
            applies_until[construction] = None
        elif (shop_id, construction) in last:
            categories.append(construction)
            applies_until[construction] = last[(shop_id, construction)] + RENOVATION_WINDOW
        for category in categories:
            interval = intervals.get((category, None if trade is None else str(trade)),
                                     intervals[(category, None)])
            checked = last.get((shop_id, category))
            records.append({
                "shop_id": shop_id, "category": category, "grid_id": grid_id, "last_checked_at": checked,
                "due_at": (checked or opened_at) + interval, "applies_until": applies_until.get(category),
            })
    session.execute(delete(CheckDue).where(*([] if ids is None else [CheckDue.shop_id.in_(ids)])))
    for start in range(0, len(records), 5000):
        session.execute(insert(CheckDue), records[start : start + 5000])
    if ids is None:
        session.info.pop(STALE_FLAG, None)


def _due_inputs(session: Session, ids: list[int] | None):
    """(open placed shops, last check per (shop, category), shops under renovation) for these shops."""
    shop_filter = [] if ids is None else [Shop.id.in_(ids)]
    shops = session.execute(
        select(Shop.id, Shop.trade, Shop.uses_gas, Shop.opened_at, Shop.grid_id).where(
            Shop.closed_at.is_(None), Shop.grid_id.is_not(None), *shop_filter
        )
    ).all()
    check_filter = [] if ids is None else [HazardCheck.shop_id.in_(ids)]
    last = {
        (shop_id, str(category)): at
        for shop_id, category, at in session.execute(
            select(HazardCheck.shop_id, HazardCheck.category, func.max(HazardCheck.performed_at))
            .where(*check_filter)
            .group_by(HazardCheck.shop_id, HazardCheck.category)
        ).all()
    }
    case_filter = [] if ids is None else [Case.shop_id.in_(ids)]
    renovating = set(
        session.scalars(
            select(Case.shop_id).where(
                Case.category == Category.CONSTRUCTION, Case.state.in_(list(OPEN_STATES)), *case_filter
            )
        ).all()
    )
    return shops, last, renovating
