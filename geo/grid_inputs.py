"""The inputs of a gridding, checked and prepared: sizes, shops, old grids, boundary, streets.

Every check raises :class:`~geo.errors.GriddingError` with a message that
says what was found and what is needed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.errors import GriddingError
from geo.metric import SNAP_M, reproject, short_segments

STREET_CLASSES = ("main", "street", "lane")


def check_sizes(target: int, min_size: int, max_size: int) -> None:
    """Refuse sizes that are not positive integers ordered ``min_size <= target <= max_size``.

    Examples
    --------
    >>> check_sizes(10, 12, 8)
    Traceback (most recent call last):
    ...
    geo.errors.GriddingError: sizes must satisfy min_size <= target <= max_size; found min_size=12, target=10, max_size=8
    """
    for name, value in (("target", target), ("min_size", min_size), ("max_size", max_size)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise GriddingError(f"{name} must be a positive integer; found {value!r}")
    if not (min_size <= target <= max_size):
        raise GriddingError(
            f"sizes must satisfy min_size <= target <= max_size; found min_size={min_size}, "
            f"target={target}, max_size={max_size}"
        )


def check_shops(shops, *, min_size: int) -> None:
    """Refuse shops that are not at least ``min_size`` finite points with a CRS.

    Examples
    --------
    >>> check_shops(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)] * 3), min_size=8)
    Traceback (most recent call last):
    ...
    geo.errors.GriddingError: shops has no CRS; set it explicitly (e.g. shops.set_crs('EPSG:4326')) so that distances can be measured
    """
    if not isinstance(shops, gpd.GeoDataFrame | gpd.GeoSeries):
        raise GriddingError(f"shops must be a GeoDataFrame of points; found {type(shops).__name__}")
    if len(shops) == 0:
        raise GriddingError("shops is empty; at least min_size shops are needed to make a grid")
    if shops.crs is None:
        raise GriddingError(
            "shops has no CRS; set it explicitly (e.g. shops.set_crs('EPSG:4326')) "
            "so that distances can be measured"
        )
    geoms = shops.geometry.values
    bad = shapely.is_missing(geoms) | (shapely.get_type_id(geoms) != 0)
    if not bad.all():
        bad |= shapely.is_empty(geoms)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        kind = "missing" if geoms[first] is None else geoms[first].geom_type
        raise GriddingError(
            f"{int(bad.sum())} shop geometries are not points (first: row {shops.index[first]!r} "
            f"is {kind}); every shop needs one Point"
        )
    coords = shapely.get_coordinates(geoms)
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise GriddingError(
            f"{int((~finite).sum())} shops have NaN or infinite coordinates (first: row "
            f"{shops.index[first]!r}); every shop needs finite coordinates"
        )
    if len(shops) < min_size:
        raise GriddingError(
            f"found {len(shops)} shops; at least min_size={min_size} are needed to make a grid"
        )


def check_grids(grids) -> None:
    """Refuse old grids that are not coded polygons with a CRS, as :func:`build_grids` returns.

    Examples
    --------
    >>> check_grids(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4549))
    Traceback (most recent call last):
    ...
    geo.errors.GriddingError: grids must be a GeoDataFrame with a 'code' column, as build_grids returns
    """
    if not isinstance(grids, gpd.GeoDataFrame) or "code" not in grids:
        raise GriddingError(
            "grids must be a GeoDataFrame with a 'code' column, as build_grids returns"
        )
    if grids.crs is None:
        raise GriddingError("grids has no CRS; set it explicitly")
    if len(grids) == 0:
        raise GriddingError("grids is empty; build grids first with build_grids")
    types = shapely.get_type_id(grids.geometry.values)
    if not np.isin(types, (3, 6)).all():
        raise GriddingError("every grid geometry must be a Polygon")


def district_region(boundary, crs: CRS, xy: np.ndarray, *, margin: float) -> shapely.Geometry:
    """The area to grid, in ``crs``: the boundary's polygons, else the shops' hull plus ``margin``.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [100.0, 0.0], [50.0, 80.0]])
    >>> district_region(gpd.GeoSeries([shapely.box(0, 0, 100, 100)], crs=4549), 4549, xy,
    ...                 margin=30.0).bounds
    (0.0, 0.0, 100.0, 100.0)
    >>> district_region(None, 4549, xy, margin=30.0).geom_type
    'Polygon'
    """
    if boundary is None:
        points = shapely.multipoints(np.unique(np.round(xy, 1), axis=0))
        hull = shapely.concave_hull(points, ratio=0.3) if len(xy) >= 3 else points
        return shapely.set_precision(shapely.buffer(hull, margin), SNAP_M)
    if not isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        raise GriddingError(
            f"boundary must be a GeoDataFrame or GeoSeries; found {type(boundary).__name__}"
        )
    if boundary.crs is None:
        raise GriddingError("boundary has no CRS; set it explicitly")
    geoms = reproject(boundary.geometry.values, boundary.crs, crs)
    geoms = geoms[~shapely.is_missing(geoms)]
    polys = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
    if len(polys) == 0:
        raise GriddingError("boundary holds no polygon; a district polygon is needed")
    # On the same millimetre grid as the output, so that edges along the
    # district boundary match it exactly.
    region = shapely.set_precision(shapely.union_all(shapely.make_valid(polys)), SNAP_M)
    return region


def check_inside(shops, xy: np.ndarray, region: shapely.Geometry) -> None:
    """Refuse shops (at ``xy`` in the region's CRS) that lie outside ``region``.

    Examples
    --------
    >>> shops = gpd.GeoDataFrame(geometry=[shapely.Point(50, 50), shapely.Point(500, 50)], crs=4549)
    >>> check_inside(shops, shapely.get_coordinates(shops.geometry.values), shapely.box(0, 0, 100, 100))
    Traceback (most recent call last):
    ...
    geo.errors.GriddingError: 1 shops lie outside the boundary (first: row 1); every shop must lie inside the district boundary
    """
    shapely.prepare(region)
    inside = shapely.intersects_xy(region, xy[:, 0], xy[:, 1])
    if not inside.all():
        first = int(np.flatnonzero(~inside)[0])
        raise GriddingError(
            f"{int((~inside).sum())} shops lie outside the boundary (first: row "
            f"{shops.index[first]!r}); every shop must lie inside the district boundary"
        )


def street_lines(streets, crs: CRS) -> dict[str, np.ndarray]:
    """Short segments of the streets in ``crs``, by class (none without streets).

    Examples
    --------
    >>> streets = gpd.GeoDataFrame({"class": ["main", "lane"]}, crs=4549,
    ...     geometry=[shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(0, 0), (0, 10)])])
    >>> {cls: len(lines) for cls, lines in street_lines(streets, 4549).items()}
    {'main': 2, 'street': 0, 'lane': 1}
    """
    if streets is None:
        return {}
    if not isinstance(streets, gpd.GeoDataFrame) or "class" not in streets:
        raise GriddingError(
            "streets must be a GeoDataFrame with a 'class' column (main, street, lane)"
        )
    if streets.crs is None:
        raise GriddingError("streets has no CRS; set it explicitly")
    classes = streets["class"].astype(str)
    unknown = sorted(set(classes) - set(STREET_CLASSES))
    if unknown:
        raise GriddingError(
            f"streets has class values {unknown}; allowed are {list(STREET_CLASSES)}"
        )
    geoms = short_segments(reproject(streets.geometry.values, streets.crs, crs))
    classes = classes.to_numpy()[geoms[1]]
    geoms = geoms[0]
    return {cls: geoms[classes == cls] for cls in STREET_CLASSES}
