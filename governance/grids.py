"""The current grid generation: which it is, the grids a viewer may see, and placing points in them.

One generation is current at a time (a partial unique index in the schema
makes a second impossible).  Every read of "the current grids" and every
placement of a point goes through this module.

Placement goes through ``geo.placement.place_points`` (vectorised, an STR
tree) on an in-process copy of the current generation's polygons.  The copy
is keyed by the database and the generation, so it is rebuilt only when a
new generation is adopted; a generation's polygons never change in place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from geo.placement import place_points
from governance.errors import NotFoundError, OutsideGrids, ValidationError
from governance.models import Case, Grid, GridGeneration
from governance.rows import geo_frame_of
from governance.spatial import ewkb
from governance.viewer import Viewer

_cache: dict[tuple, tuple[gpd.GeoDataFrame, dict[str, int]]] = {}
_cache_lock = threading.Lock()

#: Points are placed in chunks of this many: the tree query's memory stays bounded.
PLACEMENT_CHUNK = 100_000


def current_generation_id(session: Session) -> int | None:
    """The id of the current grid generation, or None before any grids exist."""
    return session.scalar(select(GridGeneration.id).where(GridGeneration.is_current.is_(True)))


def current_generation(session: Session) -> GridGeneration | None:
    return session.scalar(select(GridGeneration).where(GridGeneration.is_current.is_(True)))


def grid_scope(session: Session, viewer: Viewer, grid_codes: tuple[str, ...] = ()):
    """SQL condition on Grid: the current generation, the viewer's grids, these codes (when given)."""
    conditions = [Grid.generation_id == current_generation_id(session)]
    if not viewer.is_district_wide:
        conditions.append(Grid.id.in_(sorted(viewer.grid_ids)))
    if grid_codes:
        conditions.append(Grid.code.in_(list(grid_codes)))
    return and_(*conditions)


def grid_ids_in_scope(session: Session, viewer: Viewer, grid_codes: tuple[str, ...] = ()):
    """A subquery of the grid ids in scope, for ``column.in_(...)``."""
    return select(Grid.id).where(grid_scope(session, viewer, grid_codes))


def case_scope(session: Session, viewer: Viewer, grid_codes: tuple[str, ...] = ()) -> list:
    """Conditions on Case restricting it to the grids in scope.

    District-wide with no grid chosen, every case is in scope (cases of grids
    outside the current generation there should be none) and no condition is
    needed: the counting then reads one index instead of joining the grids.
    """
    if viewer.is_district_wide and not grid_codes:
        return []
    return [Case.grid_id.in_(grid_ids_in_scope(session, viewer, grid_codes))]


def current_grids(session: Session, viewer: Viewer) -> gpd.GeoDataFrame:
    """The grids of the current generation in scope: grid_id, code, n_shops, is_building."""
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.n_shops, Grid.is_building, ewkb(Grid.geometry))
        .where(grid_scope(session, viewer))
        .order_by(Grid.code)
    ).all()
    return geo_frame_of(rows, ["grid_id", "code", "n_shops", "is_building"])


def grid_codes(session: Session, viewer: Viewer) -> list[str]:
    """The codes of the current grids in scope, sorted (for pickers; no geometry read)."""
    return list(session.scalars(select(Grid.code).where(grid_scope(session, viewer)).order_by(Grid.code)))


def current_grid_index(session: Session) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """(grid_id, code, geometry of the current generation; code -> grid id), cached per
    database and generation.  NotFoundError when there are no grids yet."""
    # Columns, not the entity: this runs on every filing and must stay cheap.
    generation = session.execute(
        select(GridGeneration.id, GridGeneration.created_at).where(GridGeneration.is_current.is_(True))
    ).first()
    if generation is None:
        raise NotFoundError("there are no grids yet: build them (`linpu grids save`) or load the demo")
    key = (str(session.get_bind().url), generation.id, generation.created_at)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        rows = session.execute(
            select(Grid.id, Grid.code, Grid.geometry).where(Grid.generation_id == generation.id).order_by(Grid.code)
        ).all()
        frame = gpd.GeoDataFrame(
            pd.DataFrame(rows, columns=["grid_id", "code", "geometry"]), geometry="geometry", crs=4326
        )
        frame.sindex  # noqa: B018 - build the tree once, outside any caller's timing
        # Not in frame.attrs: pandas deep-copies attrs on every column access.
        ids = dict(zip(frame["code"], frame["grid_id"].astype(int).tolist(), strict=True))
        cached = (frame, ids)
        with _cache_lock:
            if len(_cache) > 16:
                _cache.clear()
            _cache[key] = cached
    return cached


def current_grid_frame(session: Session) -> gpd.GeoDataFrame:
    """grid_id, code, geometry of the current generation (cached per database and generation);
    an empty frame before any grids exist."""
    if current_generation_id(session) is None:
        return gpd.GeoDataFrame({"grid_id": [], "code": []}, geometry=[], crs=4326)
    return current_grid_index(session)[0]


def check_point(lon: float, lat: float) -> shapely.Point:
    for name, value, bound in (("lon", lon, 180), ("lat", lat, 90)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"{name}={value!r} is not a number; give WGS84 degrees") from None
        if not np.isfinite(number) or abs(number) > bound:
            raise ValidationError(f"{name}={value!r} is outside WGS84 range ±{bound} degrees")
    return shapely.Point(float(lon), float(lat))


@dataclass(frozen=True)
class Placement:
    """Where points fell in the current grids: ``grid_ids`` (-1 outside every grid),
    ``codes`` (None outside) and ``distance_m`` to the nearest grid (0 inside)."""

    grid_ids: np.ndarray
    codes: np.ndarray
    distance_m: np.ndarray

    @property
    def outside(self) -> np.ndarray:
        return self.grid_ids < 0

    @property
    def snapped(self) -> np.ndarray:
        """Points outside every grid given the nearest one (within ``snap_m``)."""
        return (self.grid_ids >= 0) & (self.distance_m > 0)


def place_in_current_grids(session: Session, lon, lat, *, snap_m: float = 0.0) -> Placement:
    """Place WGS84 points in the current grids, in chunks; the one placement every path uses.

    ``snap_m``: a point this close outside the grids' outline goes to the nearest grid
    (findings: ``LINPU_SNAP_TO_GRID_M``; shops are placed strictly).
    """
    grids, _ = current_grid_index(session)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    grid_ids = np.full(len(lon), -1, dtype=np.int64)
    codes = np.full(len(lon), None, dtype=object)
    distance = np.zeros(len(lon), dtype=float)
    for start in range(0, len(lon), PLACEMENT_CHUNK):
        part = slice(start, start + PLACEMENT_CHUNK)
        points = gpd.GeoSeries.from_xy(lon[part], lat[part], crs=4326)
        placed = place_points(points, grids, code_column="grid_id", snap_m=snap_m)
        inside = placed["code"].notna().to_numpy()
        ids = np.where(inside, placed["code"].fillna(-1).to_numpy(), -1).astype(np.int64)
        grid_ids[part] = ids
        distance[part] = placed["distance_m"].to_numpy(dtype=float)
    code_of = pd.Series(grids["code"].to_numpy(), index=grids["grid_id"].astype(int).to_numpy())
    inside = grid_ids >= 0
    codes[inside] = code_of.reindex(grid_ids[inside]).to_numpy()
    return Placement(grid_ids=grid_ids, codes=codes, distance_m=distance)


def outside_message(lon: float, lat: float, distance_m: float) -> str:
    """Why a point was refused: how far the nearest grid is, and what to check."""
    return (
        f"point ({lon:.6f}, {lat:.6f}) lies in no grid: the nearest grid is {distance_m:,.0f} m away; "
        "check the coordinates (WGS84 lon, lat; convert GCJ-02 from Chinese map apps) or extend the grids"
    )


def place(session: Session, lon: float, lat: float) -> tuple[int, str]:
    """The (grid_id, code) of the current grid containing the point; OutsideGrids if none."""
    check_point(lon, lat)
    placed = place_in_current_grids(session, [lon], [lat])
    if placed.outside[0]:
        raise OutsideGrids(outside_message(float(lon), float(lat), float(placed.distance_m[0])))
    return int(placed.grid_ids[0]), str(placed.codes[0])
