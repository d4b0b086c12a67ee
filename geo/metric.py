"""Measuring helpers shared by the gridding modules: metric CRS, containment, streets."""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

QUANZHOU_CRS = CRS.from_epsg(4549)
# Grid polygons are snapped to a millimetre grid in the metric CRS, which
# keeps them valid through a round trip to degrees.
SNAP_M = 1e-3


def metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """The metric CRS to measure ``frame`` in.

    A projected CRS in metres is kept; otherwise EPSG:4549 (CGCS2000 / 3-degree
    Gauss-Kruger CM 120E) when the data lie within its area of use (Quanzhou
    among others), else the local UTM zone.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pts = gpd.GeoSeries([shapely.Point(118.9, 25.1)], crs=4326)
    >>> metric_crs(pts).to_epsg()
    4549
    """
    crs = CRS.from_user_input(frame.crs)
    if crs.is_projected and all(ax.unit_name in ("metre", "meter") for ax in crs.axis_info):
        return crs
    lonlat = frame.to_crs(4326) if crs.to_epsg() != 4326 else frame
    west, south, east, north = lonlat.total_bounds
    aou = QUANZHOU_CRS.area_of_use
    if aou.west <= west and east <= aou.east and aou.south <= south and north <= aou.north:
        return QUANZHOU_CRS
    return lonlat.estimate_utm_crs()


def containing_polygon(polygons: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Index of the polygon covering each point (-1 if none; lowest index on borders).

    Examples
    --------
    >>> polygons = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> containing_polygon(polygons, np.array([[0.5, 0.5], [1.0, 0.5], [5.0, 5.0]])).tolist()
    [0, 0, -1]
    """
    tree = shapely.STRtree(polygons)
    pts, polys = tree.query(shapely.points(xy), predicate="covered_by")
    out = np.full(len(xy), -1, dtype=np.int64)
    order = np.lexsort((-polys, pts))
    out[pts[order]] = polys[order]
    return out


def short_segments(lines: np.ndarray, *, max_length: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """Two-point segments of at most ``max_length`` and the line each came from.

    A long diagonal street has a huge bounding box that every graph edge would
    hit in the spatial index; short pieces keep the crossing test cheap.

    Examples
    --------
    >>> segments, line = short_segments(np.array([shapely.LineString([(0, 0), (120, 0)])]))
    >>> shapely.length(segments).round(1).tolist(), line.tolist()
    ([40.0, 40.0, 40.0], [0, 0, 0])
    """
    keep = np.flatnonzero(~shapely.is_missing(lines) & ~shapely.is_empty(lines))
    coords, which = shapely.get_coordinates(
        shapely.segmentize(lines[keep], max_length), return_index=True
    )
    same = which[1:] == which[:-1]
    segments = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    return segments, keep[which[:-1][same]]


def metric_xy(points: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """Coordinates of point geometries in ``crs`` as an (n, 2) array.

    Transforms the numbers directly: making a million new point objects, as
    ``to_crs`` does, costs time and memory for nothing here.

    Examples
    --------
    >>> pts = gpd.GeoSeries([shapely.Point(118.9, 25.1)], crs=4326)
    >>> metric_xy(pts, CRS.from_epsg(4549)).round(1).tolist()
    [[389040.6, 2777583.4]]
    """
    xy = shapely.get_coordinates(points.geometry.values)
    source = CRS.from_user_input(points.crs)
    if source == crs:
        return xy
    x, y = _transformer(source.to_wkt(), CRS.from_user_input(crs).to_wkt()).transform(
        xy[:, 0], xy[:, 1]
    )
    return np.c_[x, y]


@lru_cache(maxsize=16)
def _transformer(source_wkt: str, target_wkt: str) -> Transformer:
    # Building a transformer takes tens of milliseconds: more than
    # transforming ten thousand points.
    return Transformer.from_crs(source_wkt, target_wkt, always_xy=True)


def reproject(geoms: np.ndarray, source, target) -> np.ndarray:
    """Geometries from CRS ``source`` to ``target``, with a cached transformer.

    Same numbers as ``GeoSeries.to_crs`` (both transform x, y with
    ``always_xy``), without building a new transformer on every call.

    Examples
    --------
    >>> moved = reproject(np.array([shapely.Point(118.9, 25.1)]), 4326, 4549)
    >>> shapely.get_coordinates(moved).round(1).tolist()
    [[389040.6, 2777583.4]]
    """
    source, target = CRS.from_user_input(source), CRS.from_user_input(target)
    if source == target:
        return geoms
    transformer = _transformer(source.to_wkt(), target.to_wkt())

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.c_[x, y]

    return shapely.transform(geoms, move)
