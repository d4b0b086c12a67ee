"""The loop summary: per grid, the loop's counts and how well the grid closes it.

Scoped by the viewer like every read: a grid leader's call never returns
rows of another grid; the scope is part of every SQL statement, not a
filter applied afterwards.  Overdue is computed from due times and the
clock (``governance.sla.overdue_condition``), never stored.

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

from datetime import datetime
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.orm import Session

from governance.catalog import OPEN_STATES, STATE_SEVERITY_ORDER, CaseState
from governance.check_due import checks_due_counts
from governance.clock import clock
from governance.figures import FIGURES, closed_figures
from governance.filters import CaseFilter, case_conditions, codes_of
from governance.grids import case_scope, current_grids, grid_ids_in_scope, grid_scope
from governance.models import Case, Grid, GridCategoryStats, GridStats
from governance.rows import frame_of
from governance.sla import overdue_condition
from governance.spatial import utc_text
from governance.viewer import Viewer

if TYPE_CHECKING:
    from governance.facts import CaseFacts

LOOP_COLUMNS = [state.value for state in STATE_SEVERITY_ORDER]
OPEN_COLUMNS = [state.value for state in OPEN_STATES]


def _open_figures(session: Session, viewer: Viewer, filters: CaseFilter | None, now: datetime) -> pd.DataFrame:
    counts = [func.sum(case((Case.state == state, 1), else_=0)) for state in OPEN_STATES]
    # A literal (not a bound parameter), so both databases can prove that the
    # partial covering index ix_cases_open applies.
    # Open cases are a few percent of all: a date range is read from that index, not
    # as ranges of every category in ix_cases_facts (which would pass over the closed).
    conditions = [Case.state.op("!=")(literal_column("'closed'")),
                  *case_conditions(filters, category_ranges=False)]
    if not viewer.is_district_wide or (filters and filters.grid_codes):
        conditions.append(Case.grid_id.in_(grid_ids_in_scope(session, viewer, codes_of(filters))))
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


def needs_counting(filters: CaseFilter | None) -> bool:
    """Whether :func:`grid_loop_summary` under these filters counts cases (no kept figure
    serves them), so that a :class:`~governance.facts.CaseFacts` would spare the count."""
    return not (filters is None or filters.is_empty or filters.one_category_only)


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
    now = clock(now)
    scope = grid_scope(session, viewer, codes_of(filters))
    if filters is None or filters.is_empty:
        # Unfiltered: the closed-work figures are the stored ones, read with the grids.
        summary = _stored_figures(session, scope, GridStats, GridStats.grid_id == Grid.id)
    elif filters.one_category_only:
        # One category and no dates or states: the stored figures of that category.
        summary = _stored_figures(
            session, scope, GridCategoryStats,
            and_(GridCategoryStats.grid_id == Grid.id, GridCategoryStats.category == filters.categories[0]),
            live_where=case_conditions(filters),
        )
    else:
        rows = session.execute(select(Grid.id, Grid.code, Grid.n_shops).where(scope).order_by(Grid.code)).all()
        if facts is not None:  # every grid's figures; the join below keeps those in scope
            closed = facts.closed_figures(filters)
        else:
            closed = closed_figures(
                session,
                where=[*case_scope(session, viewer, codes_of(filters)), *case_conditions(filters)],
            )
        summary = frame_of(rows, columns=["grid_id", "code", "n_shops"]).set_index("grid_id").join(closed)
    summary = summary.join(_open_figures(session, viewer, filters, now))
    if checks is None:
        checks = checks_due_counts(session, viewer, now=now, grid_codes=codes_of(filters))
    summary = _with_derived_figures(summary.join(checks[["checks_due", "checks_overdue"]]), now, min_cases_for_rank)
    summary = summary.reset_index()
    return summary[[
        "grid_id", "code", "n_shops", *LOOP_COLUMNS, "open", "total", "overdue", "worst_state",
        "oldest_open_days", "median_days_to_close", "on_time_rate", "reopen_count", "mean_rating",
        "checks_due", "checks_overdue", "open_per_10_shops", "rankable", "on_time_rank",
    ]]


def _with_derived_figures(summary: pd.DataFrame, now: datetime, min_cases_for_rank: int) -> pd.DataFrame:
    """Counts filled with zeros, and the figures derived from them: open, oldest open days,
    on-time rate, mean rating, open per 10 shops, rankable and rank, worst state."""
    counts = [*OPEN_COLUMNS, "overdue", *(f for f in FIGURES if f != "median_days_to_close")]
    summary[counts] = summary[counts].fillna(0).astype(int)
    summary["open"] = summary[OPEN_COLUMNS].sum(axis=1)
    oldest = pd.to_datetime(summary["oldest_open_at"], utc=True, format="ISO8601")
    summary["oldest_open_days"] = (pd.Timestamp(now) - oldest).dt.total_seconds() / 86400
    summary["median_days_to_close"] = summary["median_days_to_close"].astype(float)
    summary["on_time_rate"] = (summary["closed_on_time"] / summary["closed"].where(summary["closed"] > 0)).astype(float)
    summary["mean_rating"] = (summary["rating_sum"] / summary["rating_count"].where(summary["rating_count"] > 0)).astype(float)
    summary[["checks_due", "checks_overdue"]] = summary[["checks_due", "checks_overdue"]].fillna(0).astype(int)
    summary["open_per_10_shops"] = (10 * summary["open"] / summary["n_shops"].where(summary["n_shops"] > 0)).astype(float)
    summary["rankable"] = summary["total"] >= min_cases_for_rank
    rank = summary.loc[summary["rankable"], "on_time_rate"].rank(ascending=False, method="min")
    summary["on_time_rank"] = rank.reindex(summary.index)
    summary["worst_state"] = worst_open_state(summary)
    return summary


def worst_open_state(summary: pd.DataFrame) -> pd.Series:
    """The worst loop state with a case in it; ``closed`` when nothing is open."""
    worst = pd.Series(CaseState.CLOSED.value, index=summary.index, dtype=object)
    for state in reversed(STATE_SEVERITY_ORDER[:-1]):
        worst[summary[state.value] > 0] = state.value
    return worst


def with_loop_figures(grids: gpd.GeoDataFrame, summary: pd.DataFrame) -> gpd.GeoDataFrame:
    """The grids with their loop figures joined by code; the grid's own columns win.

    Grids with no row in ``summary`` keep missing figures (the caller decides
    what a quiet grid shows).
    """
    extra = summary.drop(columns=[c for c in summary.columns if c in grids.columns and c != "code"])
    return grids.merge(extra, on="code", how="left")


def grid_layer(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None,
               now: datetime | None = None) -> gpd.GeoDataFrame:
    """The current grids in scope (only the filter's codes, when it names some) with their loop
    figures: the grid layer the maps, the export and the analyst's page share."""
    grids = current_grids(session, viewer)
    layer = with_loop_figures(grids, grid_loop_summary(session, viewer, filters=filters, now=now))
    if filters and filters.grid_codes:
        layer = layer[layer["code"].isin(filters.grid_codes)]
    return gpd.GeoDataFrame(layer, geometry="geometry", crs=4326).reset_index(drop=True)
