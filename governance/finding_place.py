"""Where a finding is filed: the grid holding its point, and what its history must say.

- A point inside a current grid is filed there.
- A point outside every grid but within ``LINPU_SNAP_TO_GRID_M`` metres of
  one (a GPS reading on the district's edge) is filed in the nearest grid,
  and its first history row says how far outside it lay.
- A point farther out is refused (``OutsideGrids``) naming the distance.
- A finding that names a shop whose grid is not the point's is filed in the
  point's grid (where it was seen), and its history names the shop's grid.

``workflow.file_case`` (one finding) and ``filing.file_cases`` (a file of
them) both place through :func:`place_findings`, so both say the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.errors import OutsideGrids
from governance.grids import outside_message, place_in_current_grids
from governance.models import Grid, Shop
from governance.settings import get_settings
from governance.words import both_words


@dataclass(frozen=True)
class FindingPlaces:
    """Each finding's grid id and the note its ``raise`` history row carries ("" for none)."""

    grid_ids: np.ndarray
    notes: np.ndarray


def place_findings(session: Session, lon, lat, shop_ids=None) -> FindingPlaces:
    """Place findings (WGS84 ``lon``, ``lat``; ``shop_ids`` of the shops they name, None for none).

    Raises OutsideGrids for the first point farther than the snap distance
    from every grid, its ``position`` set to the point's index.
    """
    snap_m = get_settings().snap_to_grid_m
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    placed = place_in_current_grids(session, lon, lat, snap_m=snap_m)
    if placed.outside.any():
        i = int(np.flatnonzero(placed.outside)[0])
        exc = OutsideGrids(f"{outside_message(lon[i], lat[i], float(placed.distance_m[i]))}; "
                           f"findings up to LINPU_SNAP_TO_GRID_M = {snap_m:g} m outside go to the nearest grid")
        exc.position = i  # type: ignore[attr-defined]
        raise exc
    notes = np.full(len(lon), "", dtype=object)
    for i in np.flatnonzero(placed.snapped):
        notes[i] = both_words("place.snapped", metres=f"{placed.distance_m[i]:.1f}", grid=placed.codes[i])
    named = [] if shop_ids is None else [int(s) for s in shop_ids if s is not None and s == s]
    if named:
        shops = {row.id: row for row in session.execute(
            select(Shop.id, Shop.shop_code, Shop.grid_id, Grid.code).outerjoin(Grid, Grid.id == Shop.grid_id)
            .where(Shop.id.in_(sorted(set(named))))
        )}
        for i, shop_id in enumerate(shop_ids):
            shop = shops.get(shop_id) if shop_id is not None and shop_id == shop_id else None
            if shop is None or shop.grid_id is None or shop.grid_id == placed.grid_ids[i]:
                continue
            said = both_words("place.other_grid", grid=placed.codes[i], shop=shop.shop_code, shop_grid=shop.code)
            notes[i] = f"{notes[i]}; {said}" if notes[i] else said
    return FindingPlaces(grid_ids=placed.grid_ids, notes=notes)
