"""Read-side queries the dashboard and the exports share, scoped by the viewer.

Each returns a (Geo)DataFrame so that pages only render.  A grid leader's
call never returns rows of another grid: the scope is part of every SQL
statement, not a filter applied afterwards.  Overdue is computed here from
due times and the clock, never stored.

Definitions (also in the dashboard's help):

- *overdue*: warning or in progress past ``due_at``, or follow-up past
  ``follow_up_due_at``;
- *on-time rate* (按期结案率): among closed cases, the share never reopened
  and resolved (or closed directly) by their due time;
- *median days to close*: from raising to closing, closed cases only;
- *checks due / overdue*: routine checks falling due within
  ``CHECKS_DUE_WINDOW`` / already past due, for open shops;
- *rankable*: a grid with at least ``min_cases_for_rank`` cases in the
  period; only rankable grids get an ``on_time_rank``, so a grid with two
  cases cannot top or tail the table by luck.

At city scale (10,000 grids, 1,000,000 cases) every figure is still exact,
counted from the cases, none estimated: unfiltered, the closed-work figures
come from ``grid_stats``, and filtered to one category alone (the commonest
filter) from ``grid_category_stats``, kept by the same writes; otherwise
filtered, from a :class:`~governance.facts.CaseFacts` when the caller keeps
one (the dashboard does: every case's facts in memory, the same figures in
a few tenths of a second), else the database counts the matching cases
from ``ix_cases_facts``, a covering index led by category and creation time
(a date range without categories names every category, so it is read as
one range per category); durations to close are whole microseconds; the
trend series is counted per UTC day, in memory or in the database.
Per-grid × category × day aggregates were considered and not kept: at a
hundred cases per grid over two years nearly every such cell holds one
case, so a table of them is as long as the index and needs every write path
to maintain it.  Map points are chosen by the query (``limit``), and
geometries are decoded in one vectorised call (``governance.spatial.ewkb``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    union,
    values,
)
from sqlalchemy.orm import Session

from governance.catalog import OPEN_STATES, STATE_SEVERITY_ORDER, CaseState, Category, Trade
from governance.checklists import CHECK_INTERVALS, categories_for_trade
from governance.errors import NotFoundError, ValidationError
from governance.models import (
    Attachment,
    Case,
    CaseHistory,
    CheckDue,
    CheckSchedule,
    DistrictFeature,
    Grid,
    GridCategoryStats,
    GridGeneration,
    GridMember,
    GridStats,
    HazardCheck,
    Shop,
    ShopBadge,
    User,
)
from governance.permissions import Viewer, require_grid
from governance.spatial import UTCDateTime, ewkb, from_ewkb, utc_day, utc_text
from governance.stats import FIGURES, closed_figures, frame_of

if TYPE_CHECKING:
    from governance.facts import CaseFacts

LOOP_COLUMNS = [state.value for state in STATE_SEVERITY_ORDER]
OPEN_COLUMNS = [state.value for state in OPEN_STATES]
CHECKS_DUE_WINDOW = timedelta(days=7)
#: A grid's warnings "surge" when the last week's count is at least this many
#: and at least SURGE_FACTOR times its weekly mean over the SURGE_BASELINE_WEEKS before.
SURGE_MIN = 3
SURGE_FACTOR = 2.0
SURGE_BASELINE_WEEKS = 8
#: A checklist item failed this often within REPEAT_WINDOW at one shop is an early warning.
REPEAT_MIN = 2
REPEAT_WINDOW = timedelta(days=365)
#: Construction checks apply while a renovation is under way: an open construction
#: case or a construction check within this time.
RENOVATION_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class CaseFilter:
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    grid_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field, enum, given in (("categories", Category, self.categories), ("states", CaseState, self.states)):
            for value in given:
                try:
                    enum(value)
                except ValueError:
                    allowed = ", ".join(m.value for m in enum)
                    raise ValidationError(f"{field}: {value!r} is not known; allowed: {allowed}") from None

    @property
    def is_empty(self) -> bool:
        return not (self.start or self.end or self.categories or self.states or self.grid_codes)


def _clock(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def current_generation_id(session: Session) -> int | None:
    return session.scalar(
        select(GridGeneration.id)
        .where(GridGeneration.is_current.is_(True))
        .order_by(GridGeneration.id.desc())
        .limit(1)
    )


def _scope(session: Session, viewer: Viewer, filters: CaseFilter | None = None):
    """SQL condition on Grid: current generation, the viewer's grids, the filter's codes."""
    conditions = [Grid.generation_id == current_generation_id(session)]
    if not viewer.is_district_wide:
        conditions.append(Grid.id.in_(sorted(viewer.grid_ids)))
    if filters and filters.grid_codes:
        conditions.append(Grid.code.in_(list(filters.grid_codes)))
    return and_(*conditions)


def _grid_ids_in_scope(session: Session, viewer: Viewer, filters: CaseFilter | None = None):
    """A subquery of the grid ids in scope, for ``column.in_(...)``."""
    return select(Grid.id).where(_scope(session, viewer, filters))


def _district_scope(session: Session, viewer: Viewer, filters: CaseFilter | None) -> list:
    """Conditions on Case restricting it to the grids in scope.

    District-wide with no grid chosen, every case is in scope (cases of grids
    outside the current generation there should be none) and no condition is
    needed: the counting then reads one index instead of joining the grids.
    """
    if viewer.is_district_wide and not (filters and filters.grid_codes):
        return []
    return [Case.grid_id.in_(_grid_ids_in_scope(session, viewer, filters))]


def _case_conditions(filters: CaseFilter | None, *, category_ranges: bool = True) -> list:
    if filters is None:
        return []
    conditions = []
    if filters.start:
        conditions.append(Case.created_at >= filters.start)
    if filters.end:
        conditions.append(Case.created_at < filters.end)
    if filters.categories:
        conditions.append(Case.category.in_(list(filters.categories)))
    elif category_ranges and (filters.start or filters.end):
        # Always true (the column's CHECK allows only these), but it lets the
        # database read a date range per category from ix_cases_facts, which
        # covers the counts, instead of the wide rows by ix_cases_created_at.
        conditions.append(Case.category.in_([c.value for c in Category]))
    if filters.states:
        conditions.append(Case.state.in_(list(filters.states)))
    return conditions


def _frame(rows, columns: list[str]) -> gpd.GeoDataFrame:
    """A GeoDataFrame from rows whose last value is ``ewkb(...)`` bytes, decoded in one call."""
    frame = frame_of(rows, columns=[*columns, "geometry"])
    frame["geometry"] = from_ewkb(frame["geometry"].tolist())
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


def current_grids(session: Session, viewer: Viewer) -> gpd.GeoDataFrame:
    """The grids of the current generation in scope: grid_id, code, n_shops, is_building."""
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.n_shops, Grid.is_building, ewkb(Grid.geometry))
        .where(_scope(session, viewer))
        .order_by(Grid.code)
    ).all()
    return _frame(rows, ["grid_id", "code", "n_shops", "is_building"])


def grid_codes(session: Session, viewer: Viewer) -> list[str]:
    """The codes of the current grids in scope, sorted (for pickers; no geometry read)."""
    return list(session.scalars(select(Grid.code).where(_scope(session, viewer)).order_by(Grid.code)))


def open_shops(session: Session, viewer: Viewer, *, grid_codes: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Open shops in scope (of these grids, when given) with grid code, party-member flag and active badges."""
    scope = _scope(session, viewer, CaseFilter(grid_codes=tuple(grid_codes)))
    rows = session.execute(
        select(
            Shop.id, Shop.shop_code, Shop.name, Shop.trade, Grid.code, Shop.party_member_operator,
            ewkb(Shop.geometry),
        )
        .join(Grid, Grid.id == Shop.grid_id)
        .where(Shop.closed_at.is_(None), scope)
        .order_by(Shop.shop_code)
    ).all()
    frame = frame_of(
        rows, columns=["shop_id", "shop_code", "name", "trade", "grid_code", "party_member_operator", "geometry"]
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
    frame.insert(6, "badges", [by_shop.get(shop_id, []) for shop_id in frame["shop_id"]])
    frame["trade"] = frame["trade"].map(str)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


def district_features(session: Session) -> gpd.GeoDataFrame:
    """Boundary and streets, drawn under the grids in place of a basemap (public to every viewer)."""
    rows = session.execute(
        select(DistrictFeature.kind, DistrictFeature.name, DistrictFeature.street_class,
               ewkb(DistrictFeature.geometry))
        .order_by(DistrictFeature.id)
    ).all()
    return _frame(rows, ["kind", "name", "street_class"])


def overdue_condition(now: datetime):
    """SQL truth of "this case is past its deadline" at ``now``."""
    return or_(
        and_(Case.state.in_([CaseState.WARNING, CaseState.IN_PROGRESS]), Case.due_at < now),
        and_(Case.state == CaseState.FOLLOW_UP, Case.follow_up_due_at < now),
    )


def _open_figures(session: Session, viewer: Viewer, filters: CaseFilter | None, now: datetime) -> pd.DataFrame:
    counts = [func.sum(case((Case.state == state, 1), else_=0)) for state in OPEN_STATES]
    # A literal (not a bound parameter), so both databases can prove that the
    # partial covering index ix_cases_open applies.
    # Open cases are a few percent of all: a date range is read from that index, not
    # as ranges of every category in ix_cases_facts (which would pass over the closed).
    conditions = [Case.state.op("!=")(literal_column("'closed'")),
                  *_case_conditions(filters, category_ranges=False)]
    if not viewer.is_district_wide or (filters and filters.grid_codes):
        conditions.append(Case.grid_id.in_(_grid_ids_in_scope(session, viewer, filters)))
    # District-wide, every case is in scope; rows of grids outside the current
    # generation (there should be none) fall away when joined to the grids.
    rows = session.connection().execute(  # Core: no ORM row overhead on a hot path
        select(
            Case.grid_id,
            *counts,
            func.sum(case((overdue_condition(now), 1), else_=0)),
            # As text, parsed by pandas in one vectorised call: converting 10,000
            # timestamps one by one in the driver and the column type costs more
            # than the query itself.
            utc_text(func.min(Case.created_at)),
        )
        .where(*conditions)
        .group_by(Case.grid_id)
    ).all()
    return frame_of(rows, columns=["grid_id", *OPEN_COLUMNS, "overdue", "oldest_open_at"]).set_index("grid_id")


def _stored_figures(session: Session, scope, kept, joined, *, live_where=()) -> pd.DataFrame:
    """The grids in ``scope`` with the closed-work figures kept in ``kept`` (GridStats or
    GridCategoryStats, joined on ``joined``); grids with none kept yet (data from before
    the figures were kept) are counted live over the cases matching ``live_where``."""
    rows = session.connection().execute(  # Core: no ORM row overhead on a hot path
        select(Grid.id, Grid.code, Grid.n_shops, kept.grid_id, *(getattr(kept, f) for f in FIGURES))
        .outerjoin(kept, joined)
        .where(scope)
        .order_by(Grid.code)
    ).all()
    summary = frame_of(rows, columns=["grid_id", "code", "n_shops", "stored", *FIGURES]).set_index("grid_id")
    missing = summary.index[summary["stored"].isna()].tolist()
    if missing:
        summary.update(closed_figures(session, grid_ids=missing, where=live_where).reindex(missing))
    return summary


def _one_category_only(filters: CaseFilter) -> bool:
    return len(filters.categories) == 1 and not (filters.start or filters.end or filters.states)


def needs_counting(filters: CaseFilter | None) -> bool:
    """Whether :func:`grid_loop_summary` under these filters counts cases (no kept figure
    serves them), so that a :class:`~governance.facts.CaseFacts` would spare the count."""
    return not (filters is None or filters.is_empty or _one_category_only(filters))


def grid_loop_summary(
    session: Session,
    viewer: Viewer,
    *,
    filters: CaseFilter | None = None,
    now: datetime | None = None,
    min_cases_for_rank: int = 5,
    checks: pd.DataFrame | None = None,
    facts: CaseFacts | None = None,
) -> pd.DataFrame:
    """One row per grid in scope: the loop's counts and how well the grid closes it.

    Columns: grid_id, code, n_shops, warning, in_progress, follow_up, closed,
    open, total, overdue, worst_state, oldest_open_days, median_days_to_close,
    on_time_rate, reopen_count, mean_rating, checks_due, checks_overdue,
    open_per_10_shops, rankable, on_time_rank.  Grids with no case appear
    with zeros, so a quiet grid is visibly quiet.  Filters restrict the cases
    (created in [start, end), categories, states) and the grids (codes).
    ``checks`` are :func:`checks_due_counts` read before, if the caller keeps
    them: they do not depend on the case filters.  ``facts``, a current
    :class:`~governance.facts.CaseFacts`, answers the filters no kept figure
    serves (dates, several categories, states) without counting every case.
    """
    now = _clock(now)
    scope = _scope(session, viewer, filters)
    if filters is None or filters.is_empty:
        # Unfiltered: the closed-work figures are the stored ones, read with the grids.
        summary = _stored_figures(session, scope, GridStats, GridStats.grid_id == Grid.id)
    elif _one_category_only(filters):
        # One category and no dates or states: the stored figures of that category.
        summary = _stored_figures(
            session, scope, GridCategoryStats,
            and_(GridCategoryStats.grid_id == Grid.id, GridCategoryStats.category == filters.categories[0]),
            live_where=_case_conditions(filters),
        )
    else:
        rows = session.execute(select(Grid.id, Grid.code, Grid.n_shops).where(scope).order_by(Grid.code)).all()
        if facts is not None:  # every grid's figures; the join below keeps those in scope
            closed = facts.closed_figures(filters)
        else:
            closed = closed_figures(
                session,
                where=[*_district_scope(session, viewer, filters), *_case_conditions(filters)],
            )
        summary = frame_of(rows, columns=["grid_id", "code", "n_shops"]).set_index("grid_id").join(closed)
    summary = summary.join(_open_figures(session, viewer, filters, now))
    counts = [*OPEN_COLUMNS, "overdue", *(f for f in FIGURES if f != "median_days_to_close")]
    summary[counts] = summary[counts].fillna(0).astype(int)
    summary["open"] = summary[OPEN_COLUMNS].sum(axis=1)
    oldest = pd.to_datetime(summary["oldest_open_at"], utc=True, format="ISO8601")
    summary["oldest_open_days"] = (pd.Timestamp(now) - oldest).dt.total_seconds() / 86400
    summary["median_days_to_close"] = summary["median_days_to_close"].astype(float)
    summary["on_time_rate"] = (summary["closed_on_time"] / summary["closed"].where(summary["closed"] > 0)).astype(float)
    summary["mean_rating"] = (summary["rating_sum"] / summary["rating_count"].where(summary["rating_count"] > 0)).astype(float)
    if checks is None:
        checks = _checks_due_counts(session, viewer, now, grid_codes=filters.grid_codes if filters else ())
    summary = summary.join(checks[["checks_due", "checks_overdue"]])
    summary[["checks_due", "checks_overdue"]] = summary[["checks_due", "checks_overdue"]].fillna(0).astype(int)
    summary["open_per_10_shops"] = (10 * summary["open"] / summary["n_shops"].where(summary["n_shops"] > 0)).astype(float)
    summary["rankable"] = summary["total"] >= min_cases_for_rank
    rank = summary.loc[summary["rankable"], "on_time_rate"].rank(ascending=False, method="min")
    summary["on_time_rank"] = rank.reindex(summary.index)
    summary["worst_state"] = worst_open_state(summary)
    summary = summary.reset_index()
    return summary[[
        "grid_id", "code", "n_shops", *LOOP_COLUMNS, "open", "total", "overdue", "worst_state",
        "oldest_open_days", "median_days_to_close", "on_time_rate", "reopen_count", "mean_rating",
        "checks_due", "checks_overdue", "open_per_10_shops", "rankable", "on_time_rank",
    ]]


def worst_open_state(summary: pd.DataFrame) -> pd.Series:
    """The worst loop state with a case in it; ``closed`` when nothing is open."""
    worst = pd.Series(CaseState.CLOSED.value, index=summary.index, dtype=object)
    for state in reversed(STATE_SEVERITY_ORDER[:-1]):
        worst[summary[state.value] > 0] = state.value
    return worst


def cases_frame(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None,
                now: datetime | None = None, limit: int | None = None,
                urgent_first: bool = False) -> gpd.GeoDataFrame:
    """The cases in scope, newest first, with ``overdue`` computed at ``now``.

    ``urgent_first`` puts overdue cases before the others (newest first within
    each); ``limit`` keeps that many rows, chosen in the database, so a map of
    a city's open cases reads a few thousand rows, not every one.
    """
    now = _clock(now)
    overdue = overdue_condition(now)
    conditions = [_scope(session, viewer, filters), *_case_conditions(filters)]
    if filters and filters.states and CaseState.CLOSED.value not in filters.states:
        # Spelled as in the partial index ix_cases_open, so both databases use it.
        conditions.append(Case.state.op("!=")(literal_column("'closed'")))
    order = [Case.created_at.desc(), Case.id.desc()]
    if urgent_first:
        order.insert(0, case((overdue, 0), else_=1))
    rows = session.execute(
        select(
            Case.id, Case.case_no, Case.kind, Case.category, Case.severity, Case.title, Case.description,
            Case.state, Case.outcome, Grid.code, Shop.shop_code, Shop.name, User.display_name,
            Case.created_at, Case.due_at, Case.follow_up_due_at, Case.closed_at, Case.reopen_count,
            Case.department, overdue, Case.version, ewkb(Case.geometry),
        )
        .join(Grid, Grid.id == Case.grid_id)
        .outerjoin(Shop, Shop.id == Case.shop_id)
        .outerjoin(User, User.id == Case.reporter_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    ).all()
    frame = _frame(rows, [
        "case_id", "case_no", "kind", "category", "severity", "title", "description", "state", "outcome",
        "grid_code", "shop_code", "shop_name", "reporter", "created_at", "due_at", "follow_up_due_at",
        "closed_at", "reopen_count", "department", "overdue", "version",
    ])
    for name in ("kind", "category", "severity", "state", "outcome"):
        frame[name] = frame[name].map(lambda v: None if v is None else str(v))
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
    conditions = [_scope(session, viewer, filters)]
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
    return _frame(records, [
        "check_no", "shop_code", "grid_code", "category", "performed_at", "passed", "failed_items", "inspector",
        "case_no",
    ])


def _intervals(session: Session) -> dict[tuple[str, str | None], timedelta]:
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
    intervals = _intervals(session)
    rows = []
    for trade in Trade:
        for category in categories_for_trade(trade, under_renovation=True):
            interval = intervals.get((category.value, trade.value), intervals[(category.value, None)])
            rows.append((trade.value, category.value, interval.total_seconds() / 86400,
                         now - interval, now + CHECKS_DUE_WINDOW - interval))
    return values(
        column("trade", String(32)), column("category", String(32)), column("interval_days", Float()),
        column("overdue_before", UTCDateTime()), column("soon_before", UTCDateTime()), name="check_rules",
    ).data(rows).cte("check_rules")  # a CTE: SQLite cannot alias (VALUES ...) columns in FROM


def _check_pairs(session: Session, viewer: Viewer, now: datetime, grid_codes=()):
    """(FROM/WHERE pieces) every open shop in scope joined to each check that applies to it."""
    scope = _scope(session, viewer, CaseFilter(grid_codes=tuple(grid_codes)))
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
            .join(rules, rules.c.trade == Shop.trade)
            .outerjoin(last, and_(last.c.shop_id == Shop.id, last.c.category == rules.c.category))
            .where(
                Shop.closed_at.is_(None), scope,
                or_(rules.c.category != Category.CONSTRUCTION.value, Shop.id.in_(renovating)),
            )
        )

    return select_from, rules, last, base


def checks_due_counts(session: Session, viewer: Viewer, *, now: datetime | None = None) -> pd.DataFrame:
    """Per grid in scope (index grid_id): checks_due and checks_overdue, as in the loop summary."""
    return _checks_due_counts(session, viewer, _clock(now))


def _checks_due_counts(session: Session, viewer: Viewer, now: datetime, grid_codes=()) -> pd.DataFrame:
    """Per grid: checks_due (within CHECKS_DUE_WINDOW, not yet overdue) and checks_overdue.

    Read from ``check_due`` (kept by ``refresh_check_due``): a range scan over
    the checks due before the window's end.  A database whose ``check_due``
    was never filled is counted live, with the same rules.
    """
    if session.scalar(select(CheckDue.shop_id).limit(1)) is None:
        return _live_checks_due_counts(session, viewer, now, grid_codes)
    conditions = [
        CheckDue.due_at < now + CHECKS_DUE_WINDOW,
        or_(CheckDue.applies_until.is_(None), CheckDue.applies_until >= now),
    ]
    if not viewer.is_district_wide or grid_codes:
        conditions.append(CheckDue.grid_id.in_(_grid_ids_in_scope(session, viewer, CaseFilter(grid_codes=tuple(grid_codes)))))
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


def _checks_due_frame(session: Session, viewer: Viewer, now: datetime, *, grid_codes=()) -> pd.DataFrame:
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
    now = _clock(now)
    due = _checks_due_frame(session, viewer, now)
    return due.sort_values(["due_at", "shop_code"]).reset_index(drop=True)[
        ["shop_code", "shop_name", "grid_code", "category", "last_checked_at", "due_at", "overdue"]
    ]


def category_day_counts(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None,
                        event: str = "raised", facts: CaseFacts | None = None) -> pd.DataFrame:
    """Cases in scope per category and UTC day of an event: ``raised`` or ``closed``.

    Columns: category, day (``YYYY-MM-DD``), n.  A few thousand rows for a
    city's two years, counted by the database (ix_cases_facts covers it), or
    from ``facts`` (a current :class:`~governance.facts.CaseFacts`) when the
    whole district is in scope.
    """
    if facts is not None and viewer.is_district_wide and not (filters and filters.grid_codes):
        return facts.category_day_counts(filters, event=event)
    column = {"raised": Case.created_at, "closed": Case.closed_at}[event]
    conditions = [*_case_conditions(filters), *_district_scope(session, viewer, filters), column.is_not(None)]
    day = utc_day(column)
    rows = session.connection().execute(  # Core: no ORM row overhead on a hot path
        select(Case.category, day, func.count()).where(*conditions).group_by(Case.category, day)
    ).all()
    frame = frame_of(rows, columns=["category", "day", "n"])
    frame["category"] = frame["category"].map(str)
    return frame


def series_from_day_counts(raised: pd.DataFrame, closed: pd.DataFrame, freq: str = "W") -> pd.DataFrame:
    """Sum the day counts of ``category_day_counts`` into periods (pandas ``freq``).

    Columns: period, category, raised, closed; the same counts as grouping
    every case by its period.
    """
    columns = ["period", "category", "raised", "closed"]
    if raised.empty:
        return pd.DataFrame(columns=columns)

    def per_period(days: pd.DataFrame) -> pd.Series:
        periods = pd.to_datetime(days["day"], format="%Y-%m-%d").dt.to_period(freq).dt.start_time
        return days.groupby([periods.rename("period"), "category"])["n"].sum()

    series = pd.concat([per_period(raised).rename("raised"), per_period(closed).rename("closed")], axis=1)
    series = series.fillna(0).astype(int).reset_index().sort_values(["period", "category"])
    return series[columns].reset_index(drop=True)


def category_series(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None,
                    freq: str = "W", facts: CaseFacts | None = None) -> pd.DataFrame:
    """Cases raised and closed per period (pandas ``freq``) and category, in scope.

    The database counts per UTC day and category (``category_day_counts``);
    the days are then summed into periods (``series_from_day_counts``).  A
    caller with two connections may run the two counts side by side.
    """
    return series_from_day_counts(
        category_day_counts(session, viewer, filters=filters, event="raised", facts=facts),
        category_day_counts(session, viewer, filters=filters, event="closed", facts=facts),
        freq,
    )


def early_warnings(session: Session, viewer: Viewer, *, now: datetime | None = None) -> pd.DataFrame:
    """What needs attention before anything is reported, in scope.

    - ``check_overdue``: a routine check past its due time;
    - ``repeated_failures``: a shop failing the same checklist item at least
      REPEAT_MIN times within REPEAT_WINDOW;
    - ``warning_surge``: a grid whose cases raised in the last 7 days are at
      least SURGE_MIN and SURGE_FACTOR times its weekly mean over the
      SURGE_BASELINE_WEEKS before.

    Columns: kind, grid_code, shop_code, category, count, detail.
    """
    now = _clock(now)
    columns = ["kind", "grid_code", "shop_code", "category", "count", "detail"]
    records: list[dict] = []

    due = _checks_due_frame(session, viewer, now)
    for row in due[due["overdue"]].sort_values("due_at").itertuples():
        days = (pd.Timestamp(now) - row.due_at).total_seconds() / 86400
        last = "never checked" if pd.isna(row.last_checked_at) else f"last checked {row.last_checked_at:%Y-%m-%d}"
        records.append({
            "kind": "check_overdue", "grid_code": row.grid_code, "shop_code": row.shop_code,
            "category": row.category, "count": 1,
            "detail": f"{row.category} check overdue by {days:.0f} days ({last})",
        })

    failed = session.execute(
        select(Shop.shop_code, Grid.code, HazardCheck.category, HazardCheck.answers)
        .join(Shop, Shop.id == HazardCheck.shop_id)
        .join(Grid, Grid.id == Shop.grid_id)
        .where(_scope(session, viewer), HazardCheck.passed.is_(False), HazardCheck.performed_at >= now - REPEAT_WINDOW)
    ).all()
    item_failures: dict[tuple[str, str, str, str], int] = {}
    for shop_code, grid_code, category, answers in failed:
        for item, ok in (answers or {}).items():
            if not ok:
                key = (grid_code, shop_code, str(category), item)
                item_failures[key] = item_failures.get(key, 0) + 1
    for (grid_code, shop_code, category, item), count in sorted(item_failures.items()):
        if count >= REPEAT_MIN:
            records.append({
                "kind": "repeated_failures", "grid_code": grid_code, "shop_code": shop_code,
                "category": category, "count": count,
                "detail": f"{item} failed {count} times in the last {REPEAT_WINDOW.days} days",
            })

    week = timedelta(days=7)
    baseline_start = now - week * (SURGE_BASELINE_WEEKS + 1)
    raised = session.execute(
        select(
            Grid.code,
            func.sum(case((Case.created_at >= now - week, 1), else_=0)),
            func.sum(case((Case.created_at < now - week, 1), else_=0)),
        )
        .join(Grid, Grid.id == Case.grid_id)
        .where(_scope(session, viewer), Case.created_at >= baseline_start, Case.created_at <= now)
        .group_by(Grid.code)
    ).all()
    for grid_code, recent, before in raised:
        recent, baseline = int(recent or 0), int(before or 0) / SURGE_BASELINE_WEEKS
        if recent >= SURGE_MIN and recent >= SURGE_FACTOR * max(baseline, 0.5):
            records.append({
                "kind": "warning_surge", "grid_code": grid_code, "shop_code": None, "category": None,
                "count": recent,
                "detail": f"{recent} cases raised in the last 7 days against a weekly mean of {baseline:.1f} "
                f"over the {SURGE_BASELINE_WEEKS} weeks before",
            })
    return pd.DataFrame(records, columns=columns)


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
    frame = frame.sort_values(["role", "name"], key=lambda s: s.map(order) if s.name == "role" else s)
    return frame.reset_index(drop=True)


__all__ = [
    "CaseFilter", "LOOP_COLUMNS", "case_timeline", "cases_frame", "category_day_counts", "category_series",
    "checks_due", "checks_frame", "current_generation_id", "current_grids", "district_features",
    "early_warnings", "grid_codes", "grid_loop_summary", "grid_team", "open_shops", "overdue_condition",
    "series_from_day_counts",
]
