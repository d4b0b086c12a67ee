"""The loop figures per level of the organisation tree, rolled up from the grids.

Grids are mapped to nodes by today's tree whatever the period of the
figures: a past period is shown as the current branches would have seen it.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from governance.org import LEVELS, grid_levels, has_tree

SUMMED = ("total", "open", "warning", "overdue", "closed")
COLUMNS = ["level", "node_id", "name", "grids", *SUMMED, "on_time_rate"]


def level_rollup(session: Session, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per node of every level (top down) with the summed loop figures of its grids in
    ``summary`` (a ``loop_summary.grid_loop_summary``) and the on-time rate of their closed
    cases; empty when no tree is stored."""
    if summary.empty or not has_tree(session):
        return pd.DataFrame(columns=COLUMNS)
    levels = grid_levels(session, summary["code"])
    figures = summary[["code", *SUMMED]].assign(
        on_time_closed=summary["on_time_rate"].astype(float).fillna(0) * summary["closed"])
    parts = []
    for level in LEVELS:
        nodes = levels[["code", level.value, f"{level.value}_name"]].dropna(subset=[level.value])
        joined = figures.merge(nodes, on="code")
        if joined.empty:
            continue
        grouped = joined.groupby([level.value, f"{level.value}_name"], sort=True)
        part = grouped[list(SUMMED) + ["on_time_closed"]].sum().reset_index()
        part.columns = ["node_id", "name", *SUMMED, "on_time_closed"]
        part.insert(0, "level", level.value)
        part.insert(3, "grids", grouped.size().to_numpy())
        part["on_time_rate"] = (part["on_time_closed"] / part["closed"]).where(part["closed"] > 0)
        parts.append(part.drop(columns="on_time_closed"))
    return pd.concat(parts, ignore_index=True)[COLUMNS] if parts else pd.DataFrame(columns=COLUMNS)


def with_levels(session: Session, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids with their node at each level (``<level>`` id and ``<level>_name``) when a tree
    is stored; unchanged otherwise."""
    if not has_tree(session):
        return grids
    return grids.merge(grid_levels(session, grids["code"]), on="code", how="left")
