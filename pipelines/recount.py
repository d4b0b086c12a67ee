"""Recount every kept figure from the stored cases, checks and grids (``linpu db refresh``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from governance.check_due import refresh_check_due
from governance.db import transaction
from governance.figures import refresh_grid_stats
from governance.models import CheckDue, GridCategoryStats, GridStats


@dataclass(frozen=True)
class RecountReport:
    grid_rows: int
    grid_category_rows: int
    check_due_rows: int

    def summary(self) -> str:
        return (f"figures recounted: {self.grid_rows:,} grids, {self.grid_category_rows:,} grid × category rows, "
                f"{self.check_due_rows:,} checks due")


def recount_figures(engine: Engine) -> RecountReport:
    """Rebuild the per-grid, per-grid-and-category and checks-due tables in one transaction."""
    with transaction(engine) as session:
        refresh_grid_stats(session)
        refresh_check_due(session)
        counts = [session.scalar(select(func.count()).select_from(model))
                  for model in (GridStats, GridCategoryStats, CheckDue)]
    return RecountReport(*counts)
