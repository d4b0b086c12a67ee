"""Cases raised and closed over time, per category: the supervisor's trend series.

Counted per UTC day and category, by the database (``ix_cases_facts`` covers
it) or from a current :class:`~governance.facts.CaseFacts`; the days are then
summed into periods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.filters import CaseFilter, case_conditions, codes_of
from governance.grids import case_scope
from governance.models import Case
from governance.rows import frame_of
from governance.spatial import utc_day
from governance.viewer import Viewer

if TYPE_CHECKING:
    from governance.facts import CaseFacts


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
    conditions = [*case_conditions(filters), *case_scope(session, viewer, codes_of(filters)), column.is_not(None)]
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
