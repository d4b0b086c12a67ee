"""Quality figures of a set of grids: the numbers a reviewer of a gridding asks for."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import ConvexHull, QhullError

from geo.graph import delaunay_adjacency
from geo.metric import containing_polygon, metric_crs, metric_xy, reproject, short_segments


def grid_quality(
    grids: gpd.GeoDataFrame,
    shops: gpd.GeoDataFrame,
    *,
    shop_codes: pd.Series | None = None,
    min_size: int = 8,
    max_size: int = 12,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    streets: gpd.GeoDataFrame | None = None,
) -> dict:
    # Long: over 60 lines by its docstring and the literal of its report; the sums are helpers below.
    """Measure a gridding.

    Parameters
    ----------
    grids : GeoDataFrame
        ``code`` and polygon geometry; ``building`` (bool) marks mall grids,
        which are counted apart from the size bounds.
    shops : GeoDataFrame
        Shop points.
    shop_codes : Series, optional
        Grid code per shop, aligned to ``shops.index``. Defaults to the column
        ``grid_code`` of ``shops``, else to the grid that contains each shop.
    min_size, max_size : int
        Size bounds to judge against.
    boundary : GeoDataFrame or GeoSeries, optional
        District; gaps are measured against it. Without it, gaps are holes in
        the union of the grids.
    streets : GeoDataFrame, optional
        Street centre lines with a ``class`` column; enables the share of grids
        straddling a main road.

    Returns
    -------
    dict
        JSON-serialisable figures; areas in m², distances in m, measured in
        the metric CRS chosen by :func:`geo.gridding.metric_crs`.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from geo.gridding import build_grids
    >>> pts = [shapely.Point(118.9 + i * 1e-4, 25.1 + (i % 2) * 1e-4) for i in range(30)]
    >>> shops = gpd.GeoDataFrame(geometry=pts, crs=4326)
    >>> grids, codes = build_grids(shops)
    >>> grid_quality(grids, shops, shop_codes=codes)["size"]["share_within_bounds"]
    1.0
    """
    crs, g, poly, xy, label, building = _shops_in_grids(grids, shops, shop_codes, polygons=True)
    unassigned = int((label < 0).sum())
    counts = np.bincount(label[label >= 0], minlength=len(g))

    area = shapely.area(poly)
    perimeter = shapely.length(poly)
    pp = np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, 1e-12) ** 2, 0.0)
    parts = shapely.get_num_geometries(poly)
    gap, overlap = _gap_and_overlap(poly, area, boundary, crs)

    own = np.zeros(len(xy), dtype=bool)
    has = label >= 0
    own[has] = shapely.covers(poly[label[has]], shapely.points(xy[has]))

    span = _walking_span(xy[has], label[has], len(g))
    straddle = None
    if streets is not None:
        straddle = _straddle_share(_neighbours_of(xy[has]), label[has], streets, crs, building)

    return {
        "crs": crs.to_string(),
        "n_grids": int(len(g)),
        "n_shops": int(len(shops)),
        "building_grids": int(building.sum()),
        "shops_in_building_grids": int(counts[building].sum()),
        "size": _size_figures(counts, building, g["code"].astype(str).to_numpy(), min_size=min_size, max_size=max_size),
        "polsby_popper": {"mean": _stat(pp, np.mean), "min": _stat(pp, np.min)},
        "walking_span_m": {"max": _stat(span, np.max), "median": _stat(span, np.median)},
        "parts_per_polygon": {
            "max": int(parts.max()) if len(parts) else 0,
            "multi_part_grids": int((parts > 1).sum()),
        },
        # Validity as stored (in the grids' own CRS), not after reprojection.
        "invalid_polygons": int((~shapely.is_valid(g.geometry.values)).sum()),
        "gap_area_m2": round(gap, 3),
        "overlap_area_m2": round(max(overlap, 0.0), 3),
        "shops_outside_own_grid": int((~own[has]).sum()) + unassigned,
        "straddling_main_road_share": straddle,
    }


def _stat(values: np.ndarray, fn) -> float | None:
    return float(fn(values)) if len(values) else None


def _shop_labels(
    codes: np.ndarray, poly: np.ndarray, xy: np.ndarray, index: pd.Index, shop_codes: pd.Series | None
) -> np.ndarray:
    """Row of every shop's grid (-1: none): by its code if given, else by containment."""
    if shop_codes is None:
        return containing_polygon(poly, xy)
    wanted = shop_codes.reindex(index).astype(str)
    if pd.Index(codes).is_unique:
        # A million lookups at C speed, the same answer as the dictionary below (-1: no such code).
        return pd.Categorical(wanted, categories=codes).codes.astype(np.int64)
    index_of = {c: i for i, c in enumerate(codes)}
    return np.array([index_of.get(c, -1) for c in wanted], dtype=np.int64)


def _size_figures(
    counts: np.ndarray, building: np.ndarray, codes: np.ndarray, *, min_size: int, max_size: int
) -> dict:
    """Grid sizes against the bounds, mall grids left out."""
    normal = counts[~building]
    within = (normal >= min_size) & (normal <= max_size)
    return {
        "min": _stat(normal, np.min),
        "median": _stat(normal, np.median),
        "max": _stat(normal, np.max),
        "share_within_bounds": float(within.mean()) if len(normal) else None,
        "out_of_bounds": [str(c) for c in codes[~building][~within]],
        "bounds": [int(min_size), int(max_size)],
    }


def _gap_and_overlap(poly: np.ndarray, area: np.ndarray, boundary, crs) -> tuple[float, float]:
    """Area of the district no grid covers, and area covered twice (m²)."""
    union = _union(poly)
    overlap = float(area.sum() - union.area)
    if boundary is not None:
        # Grids are snapped to a millimetre grid; so is the boundary here.
        region = shapely.set_precision(
            shapely.union_all(reproject(boundary.geometry.values, boundary.crs, crs)), 1e-3
        )
        gap = float(shapely.difference(region, union).area)
    else:
        gap = float(sum(shapely.area(shapely.polygons(r)) for r in _holes(union)))
    return gap, overlap


def _union(poly: np.ndarray) -> shapely.Geometry:
    if shapely.coverage_is_valid(poly):
        return shapely.coverage_union_all(poly)
    try:
        return shapely.union_all(poly)
    except shapely.errors.GEOSException:
        # Edges that meet at slightly different vertices (after a reprojection
        # round trip) can defeat exact overlay; snap to a millimetre grid.
        return shapely.union_all(poly, grid_size=1e-3)


def _holes(geom: shapely.Geometry) -> list:
    rings = []
    for p in shapely.get_parts(geom):
        if shapely.get_type_id(p) == 3:
            rings.extend(
                shapely.get_interior_ring(p, i) for i in range(shapely.get_num_interior_rings(p))
            )
    return rings


def _walking_span(xy: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """Greatest distance between two shops of each grid (hull vertices suffice)."""
    span = np.zeros(n)
    if len(xy) == 0:
        return span
    pts = np.unique(np.c_[label, np.round(xy, 2)], axis=0)
    lab = pts[:, 0].astype(np.int64)
    coords = pts[:, 1:]
    counts = np.bincount(lab, minlength=n)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    width = int(counts.max())
    if width <= 64:
        # Pad every grid to the same number of points, then all pairs at once.
        slot = np.arange(len(lab)) - starts[lab]
        block = np.full((n, width, 2), np.nan)
        block[lab, slot] = coords
        for lo in range(0, n, 20_000):
            b = block[lo : lo + 20_000]
            d = np.sqrt(((b[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1))
            span[lo : lo + 20_000] = np.nan_to_num(
                np.nanmax(d.reshape(len(b), -1), axis=1, initial=0)
            )
        return span
    for i in range(n):
        c = coords[starts[i] : starts[i] + counts[i]]
        if len(c) > 3:
            with contextlib.suppress(QhullError):
                c = c[ConvexHull(c).vertices]
        if len(c) > 1:
            span[i] = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1)).max()
    return span


@dataclass(frozen=True)
class ShopNeighbours:
    """Shops' locations (rounded to 0.1 m in the metric CRS) and their Delaunay neighbours (CSR)."""

    loc: np.ndarray
    shop_loc: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray


def straddle_share(
    grids: gpd.GeoDataFrame,
    shops: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame,
    shop_codes: pd.Series | None = None,
    neighbours: ShopNeighbours | None = None,
) -> float | None:
    """The ``straddling_main_road_share`` of :func:`grid_quality`, measured on its own.

    The costliest figure of the report (a triangulation of every shop), so a
    caller may measure it apart from the others, at the same time, with the
    shops' :func:`shop_neighbours` made ahead.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from geo.gridding import build_grids
    >>> pts = [shapely.Point(118.9 + i * 1e-4, 25.1 + (i % 2) * 1e-4) for i in range(30)]
    >>> shops = gpd.GeoDataFrame(geometry=pts, crs=4326)
    >>> grids, codes = build_grids(shops)
    >>> road = gpd.GeoDataFrame({"class": ["main"]}, crs=4326,
    ...                         geometry=[shapely.LineString([(118.9005, 25.0), (118.9005, 25.2)])])
    >>> straddle_share(grids, shops, streets=road, shop_codes=codes)
    0.3333333333333333
    """
    crs, _, _, xy, label, building = _shops_in_grids(grids, shops, shop_codes, polygons=False)
    has = label >= 0
    if neighbours is None or not has.all():
        neighbours = _neighbours_of(xy[has])
    return _straddle_share(neighbours, label[has], streets, crs, building)


def _shops_in_grids(grids: gpd.GeoDataFrame, shops: gpd.GeoDataFrame, shop_codes: pd.Series | None, *,
                    polygons: bool):
    """What every figure starts from: the metric CRS, the grids (index reset), their polygons in it
    (None when ``polygons`` is False and the shops' codes make them unneeded), the shops' metric
    points, each shop's grid position (-1: none) and the building (mall) flags."""
    crs = metric_crs(shops)
    g = grids.reset_index(drop=True)
    xy = metric_xy(shops, crs)
    if shop_codes is None and "grid_code" in shops:
        shop_codes = shops["grid_code"]
    poly = reproject(g.geometry.values, g.crs, crs) if polygons or shop_codes is None else None
    label = _shop_labels(g["code"].astype(str).to_numpy(), poly, xy, shops.index, shop_codes)
    building = g["building"].to_numpy(dtype=bool) if "building" in g else np.zeros(len(g), dtype=bool)
    return crs, g, poly, xy, label, building


def shop_neighbours(shops: gpd.GeoDataFrame | gpd.GeoSeries) -> ShopNeighbours:
    """The Delaunay neighbours of the shops' locations, as :func:`grid_quality` tests them.

    They depend on the shops alone, not on the grids: a caller may have them
    made ahead, elsewhere, and pass them to :func:`straddle_share`.

    Examples
    --------
    Two shops at one door are one location; three locations make one triangle:

    >>> import shapely
    >>> pts = gpd.GeoSeries(shapely.points([(118.9, 25.1), (118.9, 25.1), (118.9001, 25.1),
    ...                                     (118.9, 25.1001)]), crs=4326)
    >>> found = shop_neighbours(pts)
    >>> found.shop_loc.tolist(), len(found.indices) // 2
    ([0, 0, 2, 1], 3)
    """
    return _neighbours_of(metric_xy(shops, metric_crs(shops)))


def _neighbours_of(xy: np.ndarray) -> ShopNeighbours:
    loc, inv = np.unique(np.round(xy, 1), axis=0, return_inverse=True)
    indptr, indices = delaunay_adjacency(loc)
    return ShopNeighbours(loc, inv.ravel(), indptr, indices)


def _straddle_share(
    neighbours: ShopNeighbours, label: np.ndarray, streets, crs, building
) -> float | None:
    """Share of (non-building) grids with shops on both sides of a main road.

    Two shops of a grid are on both sides of a road when the segment joining
    them crosses it; checking the grid's Delaunay-neighbour pairs suffices for
    contiguous grids.
    """
    mains, _ = short_segments(
        reproject(streets[streets["class"].astype(str) == "main"].geometry.values, streets.crs, crs)
    )
    normal = np.flatnonzero(~building)
    if len(normal) == 0:
        return None
    if len(mains) == 0:
        return 0.0
    loc, indptr, indices = neighbours.loc, neighbours.indptr, neighbours.indices
    loc_label = np.full(len(loc), -1, dtype=np.int64)
    loc_label[neighbours.shop_loc] = label
    src = np.repeat(np.arange(len(loc)), np.diff(indptr))
    same = (src < indices) & (loc_label[src] == loc_label[indices])
    seg = shapely.linestrings(np.stack([loc[src[same]], loc[indices[same]]], axis=1))
    hits, _ = shapely.STRtree(mains).query(seg, predicate="intersects")
    crossing = np.unique(loc_label[src[same]][np.unique(hits)])
    crossing = crossing[~building[crossing]]
    return float(len(crossing) / len(normal))
