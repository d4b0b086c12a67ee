"""Read-side queries the dashboard and the exports share.

Each returns a (Geo)DataFrame so that pages only render.  Overdue is
computed here from due times and the clock, never stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from governance.catalog import STATE_SEVERITY_ORDER, CaseState
from governance.models import Case, DistrictFeature, Grid, GridGeneration, Shop

LOOP_COLUMNS = [state.value for state in STATE_SEVERITY_ORDER]


def current_generation_id(session: Session) -> int | None:
    return session.scalar(
        select(GridGeneration.id)
        .where(GridGeneration.is_current.is_(True))
        .order_by(GridGeneration.id.desc())
        .limit(1)
    )


def _frame(rows, columns: list[str]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=[*columns, "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


def current_grids(session: Session) -> gpd.GeoDataFrame:
    """The grids of the current generation: grid_id, code, n_shops, is_building."""
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.n_shops, Grid.is_building, Grid.geometry)
        .where(Grid.generation_id == current_generation_id(session))
        .order_by(Grid.code)
    ).all()
    return _frame(rows, ["grid_id", "code", "n_shops", "is_building"])


def open_shops(session: Session) -> gpd.GeoDataFrame:
    """Shops that are open, with their grid code."""
    rows = session.execute(
        select(Shop.id, Shop.shop_code, Shop.name, Shop.trade, Grid.code, Shop.geometry)
        .outerjoin(Grid, Grid.id == Shop.grid_id)
        .where(Shop.closed_at.is_(None))
        .order_by(Shop.shop_code)
    ).all()
    return _frame(rows, ["shop_id", "shop_code", "name", "trade", "grid_code"])


def district_features(session: Session) -> gpd.GeoDataFrame:
    """Boundary and streets, drawn under the grids in place of a basemap."""
    rows = session.execute(
        select(DistrictFeature.kind, DistrictFeature.name, DistrictFeature.street_class, DistrictFeature.geometry)
        .order_by(DistrictFeature.id)
    ).all()
    return _frame(rows, ["kind", "name", "street_class"])


def overdue_condition(now: datetime):
    """SQL truth of "this case is past its deadline" at ``now``."""
    return or_(
        and_(Case.state.in_([CaseState.WARNING, CaseState.IN_PROGRESS]), Case.due_at < now),
        and_(Case.state == CaseState.FOLLOW_UP, Case.follow_up_due_at < now),
    )


def grid_loop_summary(session: Session, *, now: datetime | None = None) -> pd.DataFrame:
    """Per current grid: cases in each loop state, open, overdue and the worst open state.

    Grids with no case appear with zeros, so a quiet grid is visibly quiet.
    """
    now = now or datetime.now(UTC)
    counts = [
        func.coalesce(func.sum(case((Case.state == state, 1), else_=0)), 0).label(state.value)
        for state in STATE_SEVERITY_ORDER
    ]
    overdue = func.coalesce(func.sum(case((overdue_condition(now), 1), else_=0)), 0).label("overdue")
    rows = session.execute(
        select(Grid.code, Grid.n_shops, *counts, overdue)
        .outerjoin(Case, Case.grid_id == Grid.id)
        .where(Grid.generation_id == current_generation_id(session))
        .group_by(Grid.id, Grid.code, Grid.n_shops)
        .order_by(Grid.code)
    ).all()
    summary = pd.DataFrame(rows, columns=["code", "n_shops", *LOOP_COLUMNS, "overdue"])
    summary[[*LOOP_COLUMNS, "overdue"]] = summary[[*LOOP_COLUMNS, "overdue"]].astype(int)
    summary["open"] = summary[[s.value for s in STATE_SEVERITY_ORDER[:-1]]].sum(axis=1)
    summary["worst_state"] = worst_open_state(summary)
    return summary


def worst_open_state(summary: pd.DataFrame) -> pd.Series:
    """The worst loop state with a case in it; ``closed`` when nothing is open."""
    worst = pd.Series(CaseState.CLOSED.value, index=summary.index, dtype=object)
    for state in reversed(STATE_SEVERITY_ORDER[:-1]):
        worst[summary[state.value] > 0] = state.value
    return worst
