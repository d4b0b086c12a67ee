"""Placing points (cases, shops) into the grid polygons that contain them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd


def place_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    grids: gpd.GeoDataFrame,
    *,
    code_column: str = "code",
    snap_m: float = 0.0,
) -> pd.DataFrame:
    """Find the grid whose polygon contains each point.

    Grids cover without overlap, so a point has at most one grid; a point on
    a shared edge goes to the grid listed first.  Points in no grid get a
    missing code and their distance in metres to the nearest grid, so that a
    caller can say how far off a refused point is, or, within ``snap_m``, the nearest grid.

    Parameters
    ----------
    points : GeoDataFrame or GeoSeries of Points, with a CRS.
    grids : GeoDataFrame of polygons with a ``code_column``, with a CRS.
    code_column : column of ``grids`` to return.
    snap_m : points this close (metres) outside the grids go to the nearest grid (``distance_m`` > 0).

    Returns
    -------
    DataFrame aligned to ``points.index`` with columns ``code`` (object, NaN
    when outside every grid and farther than ``snap_m``) and ``distance_m``
    (0 inside a grid).

    Examples
    --------
    >>> import shapely
    >>> grids = gpd.GeoDataFrame({"code": ["G1"]}, geometry=[shapely.box(118.9, 25.1, 118.91, 25.11)], crs=4326)
    >>> pts = gpd.GeoSeries([shapely.Point(118.905, 25.105), shapely.Point(118.92, 25.105)], crs=4326)
    >>> place_points(pts, grids)["code"].tolist()
    ['G1', nan]
    >>> edge = gpd.GeoSeries([shapely.Point(118.91003, 25.105)], crs=4326)  # about 3 m east of G1
    >>> placed = place_points(edge, grids, snap_m=10)
    >>> placed["code"].tolist(), bool(0 < placed["distance_m"].iloc[0] < 10)
    (['G1'], True)
    """
    if points.crs is None or grids.crs is None:
        raise ValueError("place_points needs a CRS on both the points and the grids")
    geometry = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    geometry = geometry.to_crs(grids.crs)
    codes = np.full(len(geometry), np.nan, dtype=object)
    distances = np.zeros(len(geometry))
    if len(grids) and len(geometry):
        point_idx, grid_idx = grids.sindex.query(geometry.values, predicate="intersects")
        # First grid wins on shared edges: keep the first hit per point.
        order = np.lexsort((grid_idx, point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.r_[True, point_idx[1:] != point_idx[:-1]] if len(point_idx) else []
        codes[point_idx[first]] = grids[code_column].to_numpy()[grid_idx[first]]
        outside = pd.isna(codes)
        if outside.any():
            nearest, distances[outside] = _nearest(geometry[outside], grids)
            close = distances[outside] <= snap_m
            codes[np.flatnonzero(outside)[close]] = grids[code_column].to_numpy()[nearest[close]]
    elif len(geometry):
        distances[:] = np.inf
    return pd.DataFrame({"code": codes, "distance_m": distances}, index=geometry.index)


def _nearest(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Position of the nearest grid to each point and the distance to it in metres (local UTM)."""
    metric = grids.estimate_utm_crs()
    pairs, found = grids.to_crs(metric).sindex.nearest(
        points.to_crs(metric).values, return_distance=True, return_all=False
    )
    # A point that cannot be projected (latitude beyond 90) has no nearest grid: infinitely far.
    nearest, distance = np.zeros(len(points), dtype=np.int64), np.full(len(points), np.inf)
    nearest[pairs[0]], distance[pairs[0]] = pairs[1], found
    return nearest, distance


def code_at(grids: gpd.GeoDataFrame, lon: float, lat: float, *, code_column: str = "code") -> str | None:
    """The code of the grid containing one WGS84 point, or None when it lies in none.

    Examples
    --------
    >>> import shapely
    >>> grids = gpd.GeoDataFrame({"code": ["G1"]}, geometry=[shapely.box(118.9, 25.1, 118.91, 25.11)], crs=4326)
    >>> code_at(grids, 118.905, 25.105), code_at(grids, 118.92, 25.105)
    ('G1', None)
    """
    placed = place_points(gpd.GeoSeries.from_xy([lon], [lat], crs=4326), grids, code_column=code_column)
    code = placed["code"].iloc[0]
    return None if pd.isna(code) else str(code)
