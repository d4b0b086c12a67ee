"""Figures of closed work per grid (and per grid and category): computed from cases, kept in grid_stats.

One function computes them (``closed_figures``); the loop summary reads the
stored copy when unfiltered and computes afresh when filtered.  Bulk writes
(regrid, demo load, ``linpu db refresh``) call ``refresh_grid_stats`` for the
grids they touched, which recounts them; raising a case calls
``count_raised``.  A step of one case (close, reopen, rating) does not
recount its grid: the workflow takes the case's :class:`Standing` before the
step and ``count_step`` adds the difference to the grid's row and its
category's row (``UPDATE ... SET closed = closed + 1``), under those rows'
locks.  The median time to close cannot be updated from a difference, so when
the set of closed durations changed it alone is recounted, for the grid and
the category, from the grid's closed cases through an index holding exactly
the columns it reads (``ix_cases_grid_closed``), after the row locks are held,
so a concurrent close of the same grid is either seen or waits.  A test
compares the figures after random steps with a full recount.  The same figures are kept per grid and case category (``grid_category_stats``),
for the summary filtered to one category.  Other filters (dates, several
categories, states) are answered from ``governance.facts``, which holds every
case's facts in memory and gives these same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from governance.catalog import CaseState, Category
from governance.models import Case, Grid, GridCategoryStats, GridStats, Rating
from governance.rows import frame_of
from governance.spatial import median_micros_between

FIGURES = [
    "total", "closed", "closed_on_time", "reopen_count", "median_days_to_close", "rating_sum", "rating_count",
]
_COUNTS = [f for f in FIGURES if f != "median_days_to_close"]


def on_time_condition():
    """Closed, never reopened, and finished (resolved or closed directly) by its due time."""
    return and_(
        Case.state == CaseState.CLOSED,
        Case.reopen_count == 0,
        func.coalesce(Case.resolved_at, Case.closed_at) <= Case.due_at,
    )


def closed_figures(
    session: Session, *, grid_ids: Sequence[int] | None = None, where: Sequence = (),
    by_category: bool = False,
) -> pd.DataFrame:
    """Per grid (index grid_id), or per grid and category (``by_category``: index
    grid_id, category): FIGURES over the cases matching ``where``."""
    conditions = list(where)
    keys = [Case.grid_id, Case.category] if by_category else [Case.grid_id]
    index = ["grid_id", "category"] if by_category else ["grid_id"]
    if grid_ids is not None:
        conditions.append(Case.grid_id.in_(list(grid_ids)))
    # The median time to close in the same pass as the counts (exact, in whole
    # microseconds); only closed cases have an end, the others are skipped.
    closed_at = case((Case.state == CaseState.CLOSED, Case.closed_at), else_=None)
    rows = session.connection().execute(  # Core: no ORM row overhead on a hot path
        select(
            *keys,
            func.count(),
            func.sum(case((Case.state == CaseState.CLOSED, 1), else_=0)),
            func.sum(case((on_time_condition(), 1), else_=0)),
            func.sum(Case.reopen_count),
            median_micros_between(Case.created_at, closed_at) / 86_400_000_000,
        )
        .where(*conditions)
        .group_by(*keys)
    ).all()
    figures = frame_of(
        rows, columns=[*index, "total", "closed", "closed_on_time", "reopen_count", "median_days_to_close"]
    )
    if by_category:
        figures["category"] = figures["category"].map(str)
    figures = figures.set_index(index)
    figures["median_days_to_close"] = figures["median_days_to_close"].astype(float)
    ratings = frame_of(
        session.execute(
            select(*keys, func.sum(Rating.rating), func.count(Rating.id))
            .join(Rating, Rating.case_id == Case.id)
            .where(*conditions)
            .group_by(*keys)
        ).all(),
        columns=[*index, "rating_sum", "rating_count"],
    )
    if by_category:
        ratings["category"] = ratings["category"].map(str)
    ratings = ratings.set_index(index)
    figures = figures.join(ratings, how="outer")
    figures[_COUNTS] = figures[_COUNTS].fillna(0).astype(int)
    return figures[FIGURES]


def _records(figures: pd.DataFrame) -> list[dict]:
    """Rows for grid_stats (index grid_id) or grid_category_stats (index grid_id, category)."""
    figures = figures.copy()
    figures[_COUNTS] = figures[_COUNTS].fillna(0).astype(int)
    figures["median_days_to_close"] = figures["median_days_to_close"].astype(object).where(
        figures["median_days_to_close"].notna(), None)
    records = figures.reset_index().to_dict("records")
    for record in records:
        record["grid_id"] = int(record["grid_id"])
        for k in _COUNTS:
            record[k] = int(record[k])
        if record["median_days_to_close"] is not None:
            record["median_days_to_close"] = float(record["median_days_to_close"])
    return records


def _refresh_category_stats(session: Session, grid_ids: list[int] | None) -> None:
    """Rewrite the per-category rows of these grids (every grid when None): one per category."""
    categories = [c.value for c in Category]
    if grid_ids is None:
        grid_ids = session.scalars(select(Grid.id)).all()
        session.execute(delete(GridCategoryStats))
        figures = closed_figures(session, by_category=True)
    else:
        session.execute(delete(GridCategoryStats).where(GridCategoryStats.grid_id.in_(grid_ids)))
        figures = closed_figures(session, grid_ids=grid_ids, by_category=True)
    full = pd.MultiIndex.from_product([list(grid_ids), categories], names=["grid_id", "category"])
    records = _records(figures.reindex(full))
    for start in range(0, len(records), 5000):
        session.execute(insert(GridCategoryStats), records[start : start + 5000])


def count_raised(session: Session, raised: Mapping[tuple[int, str], int]) -> None:
    """Count newly raised cases, ``{(grid_id, category): n}``, in the stored figures.

    Only the totals change when a case is raised: an atomic increment per row
    instead of recounting the grid.
    """
    per_grid = Counter()
    for (grid_id, _category), n in raised.items():
        per_grid[int(grid_id)] += int(n)
    if not per_grid:
        return
    stats = GridStats.__table__
    _add_to_totals(session, stats, [stats.c.grid_id], [(g, n) for g, n in per_grid.items()])
    by_category = GridCategoryStats.__table__
    _add_to_totals(session, by_category, [by_category.c.grid_id, by_category.c.category],
                   [(int(g), str(c), int(n)) for (g, c), n in raised.items()])


def _add_to_totals(session: Session, table, keys: list, rows: list[tuple]) -> None:
    """``total += added`` for each row ``(*key values, added)`` of ``table``.

    A batch import touches tens of thousands of rows a chunk. On PostgreSQL one
    ``UPDATE … FROM unnest(arrays)``: three array parameters, not a statement per
    row (each a round of the server's executor: 22 s of a million-case import)
    nor a VALUES list of bound values (SQLAlchemy and psycopg spend seconds on
    every statement of 30,000 parameters). SQLite runs the prepared statement per
    row in-process, which is as fast.
    """
    names = [f"k{i}" for i in range(len(keys))]
    if session.bind.dialect.name != "postgresql":
        session.execute(
            update(table)
            .where(*(key == bindparam(name) for key, name in zip(keys, names, strict=True)))
            .values(total=table.c.total + bindparam("added")),
            [{**dict(zip(names, row[:-1], strict=True)), "added": row[-1]} for row in rows],
        )
        return
    columns = list(zip(*rows, strict=True))
    arrays = [bindparam(name, list(values_), type_=ARRAY(Integer if isinstance(key.type, Integer) else String))
              for name, key, values_ in zip([*names, "added"], [*keys, table.c.total], columns, strict=True)]
    added = func.unnest(*arrays).table_valued(*names, "added").render_derived()
    session.execute(
        update(table)
        .where(*(key == added.c[name] for key, name in zip(keys, names, strict=True)))
        .values(total=table.c.total + added.c.added)
    )


def refresh_grid_stats(session: Session, grid_ids: Iterable[int] | None = None) -> None:
    """Recompute the stored figures of these grids (every grid when None)."""
    session.flush()
    if grid_ids is None:
        all_ids = session.scalars(select(Grid.id)).all()
        records = _records(closed_figures(session).reindex(all_ids))
        session.execute(delete(GridStats))
        for start in range(0, len(records), 5000):
            session.execute(insert(GridStats), records[start : start + 5000])
        _refresh_category_stats(session, None)
        return
    ids = sorted({int(g) for g in grid_ids if g is not None})
    if not ids:
        return
    dialect = session.bind.dialect.name
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(GridStats).on_conflict_do_nothing()
    session.execute(upsert, [{"grid_id": g, **dict.fromkeys(_COUNTS, 0)} for g in ids])
    # Lock the rows before counting: two transactions closing cases of one grid
    # would otherwise each count only their own close, and the later write
    # would lose the other's.  (SQLite already holds its single write lock.)
    session.execute(select(GridStats.grid_id).where(GridStats.grid_id.in_(ids)).with_for_update())
    records = _records(closed_figures(session, grid_ids=ids).reindex(ids))
    session.execute(
        update(GridStats.__table__).where(GridStats.__table__.c.grid_id == bindparam("gid")),
        [{**{k: v for k, v in r.items() if k != "grid_id"}, "gid": r["grid_id"]} for r in records],
    )
    # Under the same row locks: the per-category rows of these grids.
    for start in range(0, len(ids), 5000):
        _refresh_category_stats(session, ids[start : start + 5000])


@dataclass(frozen=True)
class Standing:
    """What one case adds to its grid's closed-work figures (``total`` aside: raising counts it)."""

    closed: bool
    on_time: bool
    reopens: int
    #: (created_at, closed_at) while closed: the duration the median reads.
    duration: tuple[datetime, datetime] | None


def _standing(values) -> Standing:
    closed = str(values("state")) == CaseState.CLOSED.value
    finished = values("resolved_at") or values("closed_at")
    reopens = int(values("reopen_count") or 0)
    due = values("due_at")
    on_time = closed and reopens == 0 and finished is not None and due is not None and finished <= due
    return Standing(closed, on_time, reopens, (values("created_at"), values("closed_at")) if closed else None)


def standing(case: Case) -> Standing:
    """The case as it stands in this session (with its unsaved changes)."""
    return _standing(lambda name: getattr(case, name))


def standing_before(case: Case) -> Standing:
    """The case as loaded, before the changes not yet flushed (taken before the step's flush)."""
    attrs = inspect(case).attrs

    def loaded(name):
        history = attrs[name].history
        return history.deleted[0] if history.deleted else getattr(case, name)

    return _standing(loaded)


def _closed_median(*where):
    # Served by ix_cases_grid_closed (grid_id, state, category, created_at, closed_at): the
    # literal state keeps the plan on the index whatever the driver prepares.
    return (
        select(median_micros_between(Case.created_at, Case.closed_at) / 86_400_000_000)
        .where(Case.state == literal_column("'closed'"), *where)
        .scalar_subquery()
    )


def _add_to_rows(session: Session, grid_id: int, category: str, changes: dict, *, median: bool) -> bool:
    """Add ``changes`` to the grid's row and its category's row, then recount their medians if asked.

    False (nothing written) when the grid keeps no row for the category; the caller recounts then."""
    tables = (
        (GridStats.__table__, [GridStats.__table__.c.grid_id == grid_id], [Case.grid_id == grid_id]),
        (GridCategoryStats.__table__,
         [GridCategoryStats.__table__.c.grid_id == grid_id, GridCategoryStats.__table__.c.category == category],
         [Case.grid_id == grid_id, Case.category == category]),
    )
    # The grid's row first, always: every writer takes the locks in one order.
    for table, where, _ in tables:
        values = {name: table.c[name] + n for name, n in changes.items() if n}
        if not values and not median:
            continue
        # An unchanged count still takes the row's lock before the median is recounted.
        values = values or {"closed": table.c.closed}
        if session.execute(update(table).where(*where).values(values)).rowcount == 0:
            return False
    if median:
        # Statements of their own, begun once the locks above are held: a close of this grid
        # committed meanwhile is in their snapshot (PostgreSQL's READ COMMITTED).
        for table, where, cases_where in tables:
            session.execute(update(table).where(*where).values(median_days_to_close=_closed_median(*cases_where)))
    return True


def count_step(session: Session, case: Case, before: Standing) -> None:
    """Update the stored figures of ``case``'s grid by what one step changed (``before``: the case's
    :func:`standing_before` the step); recounts the grid if it keeps no figures yet."""
    after = standing(case)
    if after == before:
        return
    changes = {
        "closed": after.closed - before.closed,
        "closed_on_time": after.on_time - before.on_time,
        "reopen_count": after.reopens - before.reopens,
    }
    if not _add_to_rows(session, case.grid_id, str(case.category), changes, median=after.duration != before.duration):
        refresh_grid_stats(session, [case.grid_id])


def count_rating(session: Session, case: Case, rating: int) -> None:
    """A new rating of ``case`` in its grid's stored figures."""
    changes = {"rating_sum": int(rating), "rating_count": 1}
    if not _add_to_rows(session, case.grid_id, str(case.category), changes, median=False):
        refresh_grid_stats(session, [case.grid_id])
