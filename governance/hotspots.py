"""Hotspots of the cases in a viewer's scope: counts per grid, the test, its thresholds.

The statistics are ``geo.hotspots.hotspots`` (Gi* from esda with
conditional permutations and an FDR cut); this module counts the cases of
the period per grid in the viewer's scope, applies the thresholds from the
settings and reports the method, so the supervisor's page and the
hotspots export say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.hotspots import FDR_LEVELS, METHOD, PERMUTATIONS, SEED, hotspots
from governance.filters import CaseFilter, case_conditions
from governance.grids import case_scope, current_grids
from governance.models import Case
from governance.settings import get_settings
from governance.viewer import Viewer

#: Below this many cases in the period and scope, no grid is called a hotspot.
MIN_PERIOD_CASES = 30


@dataclass(frozen=True)
class HotspotReport:
    """Per grid (``code``, ``cases``, ``star_cases``, ``gi_z``, ``gi_p``, ``gi_class``)
    and the method with its thresholds."""

    grids: gpd.GeoDataFrame
    total_cases: int
    min_cases: int
    min_total: int = MIN_PERIOD_CASES

    @property
    def too_few_cases(self) -> bool:
        return self.total_cases < self.min_total

    @property
    def n_hot(self) -> int:
        return int(self.grids["gi_class"].astype(str).str.startswith("hot").sum())

    @property
    def method(self) -> str:
        """The method and thresholds in one line (for files; the page words it in i18n)."""
        cuts = ", ".join(f"{name} FDR {rate:.0%}" for name, rate in FDR_LEVELS)
        return (f"{METHOD}: {PERMUTATIONS} permutations, seed {SEED}, {cuts}; a hotspot needs "
                f">= {self.min_cases} cases in its neighbourhood and >= {self.min_total} in the period")


def cases_per_grid(session: Session, viewer: Viewer, filters: CaseFilter | None = None) -> pd.Series:
    """Cases matching ``filters`` per grid id, in the viewer's scope."""
    rows = session.execute(
        select(Case.grid_id, func.count())
        .where(*case_scope(session, viewer), *case_conditions(filters))
        .group_by(Case.grid_id)
    ).all()
    return pd.Series({int(g): int(n) for g, n in rows if g is not None}, dtype="int64")


def case_hotspots(session: Session, viewer: Viewer, *, filters: CaseFilter | None = None,
                  grids: gpd.GeoDataFrame | None = None, weights=None,
                  min_cases: int | None = None) -> HotspotReport:
    """The hotspots of the cases raised in the period (of the filter's categories) in the
    viewer's grids: every state, and every grid in scope whatever grids the filter picks
    (a hotspot is where cases arise, judged against its whole surroundings)."""
    if filters is not None:
        filters = replace(filters, grid_codes=(), states=())
    grids = current_grids(session, viewer) if grids is None else grids
    counts = cases_per_grid(session, viewer, filters)
    frame = grids[["grid_id", "code", "geometry"]].copy()
    frame["cases"] = frame["grid_id"].map(counts).fillna(0).astype(int)
    min_cases = get_settings().hotspot_min_cases if min_cases is None else min_cases
    found = hotspots(frame, "cases", weights=weights, min_cases=min_cases, min_total=MIN_PERIOD_CASES)
    return HotspotReport(found.drop(columns="grid_id"), int(frame["cases"].sum()), min_cases)
