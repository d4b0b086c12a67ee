"""Balanced, compact, stable grids of about ten neighbouring shops (十邻铺).

How it works. Shops at one spot (within 0.1 m) form one *location*, weighted
by its number of shops. The Voronoi cells of the locations tile the district;
two locations are neighbours when their cells share a border inside it. METIS
partitions this graph into parts of about ``target`` shops, large inputs tile
by tile (tiles cut at multiples of ``target`` shops, so the work stays
linear). An edge weighs the length of the border its two cells share, so the
cut METIS minimises is the total border between grids: the shortest borders
for the sizes asked make the most compact grids. Local repairs then put every
grid within ``[min_size, max_size]``, and a grid's polygon is the union of its
locations' cells clipped to the district: the polygons cover it without gap
or overlap, each is one piece, and every shop lies inside its own grid.

Rules where the practice leaves a choice:

- **Malls and markets.** A location holding more than ``max_size`` shops (one
  coordinate for a whole mall) becomes a grid of its own, flagged
  ``building=True``. It is the only kind of grid allowed above ``max_size``,
  and :func:`grid_quality` counts it apart. When the shops cannot make grids
  within bounds at all (13 shops for grids of 8 to 12), the odd grid is kept,
  a warning names it and the quality report lists it: never a silent
  overflow. The same holds for a pocket of shops cut off from all others
  (enclosed by a mall's area, across a river hole) and too small for a grid:
  it becomes an undersized grid of its own rather than half of a grid in two
  pieces that no leader can walk as one.
- **Locations.** Shops less than 10 cm apart (in a chain) share a location:
  one entrance, always one grid. Each distinct point is a Voronoi site and a
  location's area is the union of its sites' cells, so every shop lies inside
  its own grid with centimetres to spare.
- **Codes.** ``G001``, ``G002``, ... (``prefix`` + a zero-padded serial of at
  least three digits) in reading order of the map, the way Chinese unit-grid
  codes run: rows from north to south, west to east within a row, by the
  centre of each grid's shops; a row is a band as tall as a typical grid.
  :func:`update_grids` never renumbers: a grid keeps its code, new grids take
  the next free serial, the codes of merged grids are retired.
- **Streets.** A graph edge that crosses a ``main`` road is cut before
  partitioning, unless the pieces on either side are too small to make grids
  of their own; crossing a ``street`` makes an edge 20 % lighter; ``lane``
  (alleys a grid leader walks through) changes nothing.
- **Holes.** Locations whose cells touch only outside the district (across a
  river with a hole in the boundary, around a concave edge) are not
  neighbours, so no grid spans them.
- **Precision.** Polygons are snapped to a millimetre grid in the metric CRS
  (so are boundaries when measured), which keeps them valid through a
  round trip to degrees.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo import partition as part
from geo.errors import GriddingError
from geo.metric import containing_polygon, metric_crs, metric_xy, reproject, short_segments
from geo.quality import grid_quality
from geo.voronoi import (
    Diagram,
    absorb_fragments,
    cells_touch_within,
    clip_to,
    dissolve_cells,
    voronoi_diagram,
)

__all__ = [
    "GridChanges",
    "GriddingError",
    "build_grids",
    "grid_quality",
    "metric_crs",
    "update_grids",
]

STREET_CLASSES = ("main", "street", "lane")
# How much lighter an edge gets when it crosses a street of each class.
CROSSING_FACTOR = {"main": 0.02, "street": 0.8, "lane": 1.0}
# Shops closer than this share one location (one entrance, one building).
SAME_LOCATION_M = 0.1
SNAP_M = 1e-3


def build_grids(
    shops: gpd.GeoDataFrame,
    *,
    target: int = 10,
    min_size: int = 8,
    max_size: int = 12,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    streets: gpd.GeoDataFrame | None = None,
    seed: int = 0,
    prefix: str = "G",
    margin: float = 30.0,
) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Partition shops into grids of about ``target`` neighbouring shops.

    Parameters
    ----------
    shops : GeoDataFrame
        Shop points with an explicit CRS; the index may be anything.
    target, min_size, max_size : int
        Wanted and allowed numbers of shops per grid.
    boundary : GeoDataFrame or GeoSeries, optional
        District polygon(s); the grids cover exactly this area. Without it they
        cover the shops' concave hull buffered by ``margin`` metres.
    streets : GeoDataFrame, optional
        Street centre lines with a ``class`` column in ``main``, ``street``,
        ``lane``; grids follow them and avoid straddling main roads.
    seed : int
        Seed of the partitioner; equal input and seed give equal grids.
    prefix : str
        Start of every grid code.
    margin : float
        Buffer in metres around the shops when there is no boundary.

    Returns
    -------
    grids : GeoDataFrame
        ``code``, ``n_shops``, ``building`` (a single-location grid of a mall
        or market above ``max_size``) and polygon ``geometry``, in the shops'
        CRS, sorted by code.
    shop_codes : Series
        Grid code of every shop, aligned to ``shops.index``.

    Raises
    ------
    GriddingError
        Empty input, fewer shops than ``min_size``, missing CRS, non-point or
        non-finite geometries, shops outside the boundary, or sizes not
        ordered ``min_size <= target <= max_size``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pts = [shapely.Point(118.9 + i * 1e-4, 25.1 + (i % 2) * 1e-4) for i in range(30)]
    >>> shops = gpd.GeoDataFrame(geometry=pts, crs=4326)
    >>> grids, codes = build_grids(shops)
    >>> list(grids.code), int(grids.n_shops.sum()), bool(grids.n_shops.between(8, 12).all())
    (['G001', 'G002', 'G003'], 30, True)
    >>> codes.value_counts().sort_index().index.tolist()
    ['G001', 'G002', 'G003']
    """
    _check_sizes(target, min_size, max_size)
    _check_shops(shops, min_size=min_size)
    crs = metric_crs(shops)
    xy = metric_xy(shops, crs)
    region = _region(boundary, crs, xy, margin=margin)
    _check_inside(shops, xy, region)
    street_lines = _streets(streets, crs)

    locs = _locations(xy)
    loc_xy, shop_loc, loc_weight = locs.xy, locs.shop, locs.weight
    diagram = voronoi_diagram(locs.site_xy, region, grid_size=SNAP_M)
    graph = locs.graph(diagram, street_lines, region)
    building = loc_weight > max_size
    labels = _partition(
        graph, building, target=target, min_size=min_size, max_size=max_size, seed=seed
    )

    n_labels = int(labels.max()) + 1
    site_labels = labels[locs.site_loc]
    polygons = clip_to(dissolve_cells(diagram, site_labels, n_labels), region)
    del diagram
    anchors = _anchors(locs.site_xy, site_labels, n_labels)
    polygons = _settle(absorb_fragments(polygons, anchors))

    sizes = np.bincount(labels[shop_loc], minlength=n_labels)
    is_building = np.zeros(n_labels, dtype=bool)
    is_building[labels[building]] = True
    centre = (
        np.c_[
            np.bincount(labels, weights=loc_xy[:, 0] * loc_weight, minlength=n_labels),
            np.bincount(labels, weights=loc_xy[:, 1] * loc_weight, minlength=n_labels),
        ]
        / np.maximum(np.bincount(labels, weights=loc_weight, minlength=n_labels), 1)[:, None]
    )
    codes = _reading_order_codes(centre, shapely.area(polygons), prefix=prefix)
    _warn_out_of_bounds(codes, sizes, is_building, min_size, max_size)

    grids = gpd.GeoDataFrame(
        {"code": codes, "n_shops": sizes.astype(np.int64), "building": is_building},
        geometry=reproject(polygons, crs, shops.crs),
        crs=shops.crs,
    )
    shop_codes = pd.Series(codes[labels[shop_loc]], index=shops.index, name="grid_code")
    return grids.sort_values("code", ignore_index=True), shop_codes


@dataclass(frozen=True)
class GridChanges:
    """What :func:`update_grids` changed, by grid code."""

    shops_moved: int
    split: dict[str, list[str]]
    merged: dict[str, str]
    rebalanced: list[tuple[str, ...]]
    appeared: list[str]
    retired: list[str]
    reshaped: list[str]
    unresolved: list[str]

    def as_dict(self) -> dict:
        return {
            "shops_moved": self.shops_moved,
            "split": self.split,
            "merged": self.merged,
            "rebalanced": [list(p) for p in self.rebalanced],
            "appeared": self.appeared,
            "retired": self.retired,
            "reshaped": self.reshaped,
            "unresolved": self.unresolved,
        }


def update_grids(
    grids: gpd.GeoDataFrame,
    shops: gpd.GeoDataFrame,
    *,
    target: int = 10,
    min_size: int = 8,
    max_size: int = 12,
    streets: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, pd.Series, GridChanges]:
    """Repair existing grids after shops opened and closed.

    Every shop goes to the grid that contains it. Grids still within bounds
    keep their shops, code and polygon untouched; an overfull grid is split, an
    underfull one merged into a neighbour or rebalanced with it, and only the
    area of the grids involved is re-divided. Codes are never renumbered: new
    grids take the next free serial.

    Parameters
    ----------
    grids : GeoDataFrame
        Output of :func:`build_grids` (``code`` and polygons; ``building`` is
        optional).
    shops : GeoDataFrame
        All shops open now, with an explicit CRS.
    target, min_size, max_size : int
        As in :func:`build_grids`.
    streets : GeoDataFrame, optional
        As in :func:`build_grids`; used when grids are re-split.

    Returns
    -------
    grids : GeoDataFrame
        Repaired grids, in the grids' CRS, sorted by code.
    shop_codes : Series
        Grid code of every shop, aligned to ``shops.index``.
    changes : GridChanges
        Grids split, merged, rebalanced, appeared, retired and reshaped, and
        how many shops now belong to another grid than the one containing them
        before.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pts = [shapely.Point(118.9 + i * 1e-4, 25.1 + (i % 2) * 1e-4) for i in range(30)]
    >>> shops = gpd.GeoDataFrame(geometry=pts, crs=4326)
    >>> grids, _ = build_grids(shops)
    >>> new, codes, changes = update_grids(grids, shops.iloc[:-1])
    >>> changes.shops_moved
    0
    """
    _check_sizes(target, min_size, max_size)
    _check_shops(shops, min_size=min_size)
    _check_grids(grids)
    crs = metric_crs(shops)
    old = grids.reset_index(drop=True)
    old_poly = reproject(old.geometry.values, old.crs, crs)
    xy = metric_xy(shops, crs)
    street_lines = _streets(streets, crs)

    locs = _locations(xy)
    shop_loc, loc_weight = locs.shop, locs.weight
    site_old = containing_polygon(old_poly, locs.site_xy)
    outside = site_old[locs.shop_site] < 0
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise GriddingError(
            f"{int(outside.sum())} shops lie outside every existing grid "
            f"(first: row {shops.index[first]!r}); update_grids needs every shop inside "
            "the old grids - rebuild with build_grids and a larger boundary instead"
        )
    n_old = len(old)
    region = _union_of_coverage(old_poly)
    # A location belongs where its first site lies; one whose sites straddle
    # old grids (a shop opened beside a border) makes those grids redrawn.
    old_label = site_old[locs.first_site]
    straddled = site_old != old_label[locs.site_loc]
    straddled_grids = set(site_old[straddled].tolist()) | set(old_label[locs.site_loc[straddled]].tolist())
    graph = locs.graph(voronoi_diagram(locs.site_xy, region, grid_size=SNAP_M), street_lines, region)
    building = loc_weight > max_size
    labels = old_label.copy()
    # A location that now holds a mall becomes its own building grid.
    old_building = (
        old["building"].to_numpy(dtype=bool) if "building" in old else np.zeros(n_old, bool)
    )
    next_label = n_old
    for loc in np.flatnonzero(building):
        lab = labels[loc]
        if old_building[lab] and (labels == lab).sum() == 1:
            continue
        labels[loc] = next_label
        next_label += 1
    appeared_building = list(range(n_old, next_label))

    free = ~building
    sub, _ = part.subgraph(graph, np.flatnonzero(free))
    sub_labels, log = part.repair_sizes(
        sub,
        labels[free],
        target=target,
        min_size=min_size,
        max_size=max_size,
        first_new_label=next_label,
    )
    labels[free] = sub_labels

    present = np.zeros(max(int(labels.max()) + 1, n_old), dtype=bool)
    present[labels] = True
    retired = [lab for lab in range(n_old) if not present[lab]]
    touched = set(appeared_building)
    touched.update(_log_labels(log))
    touched.update(int(labels[loc]) for loc in np.flatnonzero(building) if int(labels[loc]) < n_old)
    zone_old = {lab for lab in touched if lab < n_old} | set(retired) | straddled_grids
    for loc in np.flatnonzero(building):
        zone_old.add(int(old_label[loc]))
    # An emptied grid's area goes to its neighbours, which are then reshaped.
    tree = shapely.STRtree(old_poly)
    for lab in retired:
        for k in tree.query(old_poly[lab], predicate="intersects"):
            if present[k] and k not in zone_old:
                zone_old.add(int(k))
    zone_labels = sorted({int(lab) for lab in np.unique(labels) if lab in zone_old or lab >= n_old})

    polygons = np.empty(max(int(labels.max()) + 1, n_old), dtype=object)
    # Untouched grids keep their input geometry bit for bit; the repaired area
    # is re-divided in the input CRS, against the exact outline of the old
    # grids it replaces, so that no projection round trip opens slivers
    # against the neighbours (which compound over repeated updates).
    polygons[:n_old] = old.geometry.values
    if zone_labels:
        zone = shapely.union_all(old.geometry.values[sorted(zone_old)])
        site_labels = labels[locs.site_loc]
        in_zone = np.isin(site_labels, zone_labels)
        zone_xy = locs.site_xy[in_zone]
        zone_lab = site_labels[in_zone]
        local = {lab: i for i, lab in enumerate(zone_labels)}
        local_lab = np.array([local[int(v)] for v in zone_lab], dtype=np.int64)
        zone_metric = reproject(np.array([zone], dtype=object), grids.crs, crs)[0]
        zone_diagram = voronoi_diagram(zone_xy, zone_metric, grid_size=SNAP_M)
        # Dissolved in metres (where Voronoi cells mean something), clipped in
        # the grids' own CRS; shared vertices reproject identically.
        cells = reproject(dissolve_cells(zone_diagram, local_lab, len(zone_labels)), crs, grids.crs)
        new_poly = clip_to(cells, zone)
        anchor_xy = shapely.get_coordinates(reproject(shapely.points(zone_xy), crs, grids.crs))
        new_poly = absorb_fragments(new_poly, _anchors(anchor_xy, local_lab, len(zone_labels)))
        for lab, poly in zip(zone_labels, new_poly, strict=True):
            polygons[lab] = _largest_polygon(poly) if shapely.get_type_id(poly) == 7 else poly
    for lab in retired:
        polygons[lab] = None

    old_codes = old["code"].astype(str).tolist()
    prefix, width, next_serial = _code_scheme(old_codes)
    codes = np.empty(len(polygons), dtype=object)
    codes[:n_old] = old_codes
    # Only grids that exist at the end get a serial (a part made and merged
    # again during the repair never reaches the user).
    for lab in range(n_old, len(polygons)):
        if present[lab]:
            codes[lab] = f"{prefix}{next_serial:0{width}d}"
            next_serial += 1

    alive = np.flatnonzero(present[: len(polygons)])
    sizes = np.bincount(labels[shop_loc], minlength=len(polygons))
    is_building = np.zeros(len(polygons), dtype=bool)
    is_building[:n_old] = old_building
    is_building[labels[building]] = True
    is_building[labels[~building]] = False
    out = gpd.GeoDataFrame(
        {
            "code": codes[alive],
            "n_shops": sizes[alive].astype(np.int64),
            "building": is_building[alive],
        },
        geometry=list(polygons[alive]),
        crs=grids.crs,
    ).sort_values("code", ignore_index=True)
    shop_codes = pd.Series(codes[labels[shop_loc]], index=shops.index, name="grid_code")
    moved = int((labels[shop_loc] != site_old[locs.shop_site]).sum())
    _warn_out_of_bounds(codes[alive], sizes[alive], is_building[alive], min_size, max_size)

    def code_of(lab: int) -> str:
        return str(codes[lab])

    def real(lab: int) -> bool:
        return codes[lab] is not None

    changes = GridChanges(
        shops_moved=moved,
        split={
            code_of(p): [code_of(q) for q in qs if real(q)]
            for p, qs in log.split.items()
            if real(p) and any(real(q) for q in qs)
        },
        merged={
            code_of(p): code_of(_final_label(q, log.merged, present))
            for p, q in log.merged.items()
            if real(p) and real(_final_label(q, log.merged, present))
        },
        rebalanced=[
            tuple(code_of(g) for g in group if real(g))
            for group in log.rebalanced
            if sum(real(g) for g in group) > 1
        ],
        appeared=[code_of(lab) for lab in range(n_old, len(polygons)) if present[lab]],
        retired=[code_of(lab) for lab in retired],
        reshaped=sorted(code_of(lab) for lab in zone_labels),
        unresolved=sorted({code_of(p) for p in log.unresolved}),
    )
    return out, shop_codes, changes


# -- helpers ---------------------------------------------------------------


def _largest_polygon(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3]
    return max(parts, key=shapely.area) if parts else geom


def _union_of_coverage(polygons: np.ndarray) -> shapely.Geometry:
    """Union of polygons that tile without overlap (fast path), else a full union."""
    try:
        union = shapely.coverage_union_all(polygons)
        if shapely.is_valid(union):
            return union
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(polygons)


def _settle(polygons: np.ndarray) -> np.ndarray:
    """Snap to a millimetre grid in the metric CRS.

    Clipping leaves vertices a few nanometres apart; they survive in metres but
    collapse into self-intersections once projected to degrees and back.
    """
    out = polygons.copy()
    present = np.flatnonzero(~shapely.is_missing(polygons))
    # Dissolved cells are on the grid already (their vertices were snapped);
    # only polygons cut by the boundary, or invalid ones, need the work.
    coords, which = shapely.get_coordinates(polygons[present], return_index=True)
    off = ~np.isclose(coords, np.round(coords / SNAP_M) * SNAP_M, rtol=0, atol=1e-9).all(axis=1)
    todo = np.zeros(len(present), dtype=bool)
    todo[np.unique(which[off])] = True
    todo |= ~shapely.is_valid(polygons[present])
    idx = present[todo]
    if idx.size:
        # Round the coordinates rather than reduce precision with an overlay:
        # the overlay drops vertices a neighbour still has on the shared
        # border, and the layer would no longer be an exact coverage.
        out[idx] = shapely.transform(polygons[idx], lambda c: np.round(c / SNAP_M) * SNAP_M)
        broken = idx[~shapely.is_valid(out[idx])]
        if broken.size:
            out[broken] = shapely.set_precision(polygons[broken], SNAP_M)
    return out


def _warn_out_of_bounds(codes, sizes, is_building, min_size: int, max_size: int) -> None:
    bad = ~is_building & ((sizes < min_size) | (sizes > max_size))
    if bad.any():
        listed = ", ".join(f"{codes[i]} ({sizes[i]} shops)" for i in np.flatnonzero(bad)[:10])
        warnings.warn(
            f"{int(bad.sum())} grids are outside [{min_size}, {max_size}] shops because the "
            f"shops cannot be split otherwise: {listed}",
            UserWarning,
            stacklevel=3,
        )


def _final_label(lab: int, merged: dict[int, int], present: np.ndarray) -> int:
    """Where a merged part's shops ended up, following merges of merges."""
    seen = set()
    while lab in merged and not present[lab] and lab not in seen:
        seen.add(lab)
        lab = merged[lab]
    return lab


def _log_labels(log: part.RepairLog) -> set[int]:
    out: set[int] = set()
    for p, qs in log.split.items():
        out.add(p)
        out.update(qs)
    for p, q in log.merged.items():
        out.update((p, q))
    for group in log.rebalanced:
        out.update(group)
    return out


def _check_sizes(target: int, min_size: int, max_size: int) -> None:
    for name, value in (("target", target), ("min_size", min_size), ("max_size", max_size)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise GriddingError(f"{name} must be a positive integer; found {value!r}")
    if not (min_size <= target <= max_size):
        raise GriddingError(
            f"sizes must satisfy min_size <= target <= max_size; found min_size={min_size}, "
            f"target={target}, max_size={max_size}"
        )


def _check_shops(shops, *, min_size: int) -> None:
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


def _check_grids(grids) -> None:
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


def _region(boundary, crs: CRS, xy: np.ndarray, *, margin: float) -> shapely.Geometry:
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


def _check_inside(shops, xy: np.ndarray, region: shapely.Geometry) -> None:
    shapely.prepare(region)
    inside = shapely.intersects_xy(region, xy[:, 0], xy[:, 1])
    if not inside.all():
        first = int(np.flatnonzero(~inside)[0])
        raise GriddingError(
            f"{int((~inside).sum())} shops lie outside the boundary (first: row "
            f"{shops.index[first]!r}); every shop must lie inside the district boundary"
        )


def _streets(streets, crs: CRS) -> dict[str, np.ndarray]:
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


@dataclass(frozen=True)
class _Locations:
    """Shops grouped twice: into sites (distinct points) and locations (one entrance).

    Sites are the shops' points snapped to ``SNAP_M``; they are the Voronoi
    sites, so every shop lies within a millimetre of its own site. A location
    is a chain of sites less than ``SAME_LOCATION_M`` apart (single linkage):
    its shops always share a grid, and its area is the union of its sites'
    cells. Two locations are therefore at least ``SAME_LOCATION_M`` apart and
    the border between them passes at least half that from any shop, far
    beyond what snapping or a round trip to degrees can move it. (Grouping by
    the cell of a 10 cm lattice, as before, let a shop lie centimetres from its
    location's point and fall on the neighbour's side of the border.)
    """

    xy: np.ndarray  # one point per location: its first site
    first_site: np.ndarray
    weight: np.ndarray  # shops per location
    shop: np.ndarray  # location of every shop
    site_xy: np.ndarray
    site_loc: np.ndarray  # location of every site
    shop_site: np.ndarray

    @property
    def one_site_each(self) -> bool:
        return len(self.site_xy) == len(self.xy)

    def graph(self, diagram: Diagram, streets, region) -> part.Graph:
        """Neighbour graph of the locations, from the Voronoi diagram of the sites."""
        site_weight = np.bincount(self.shop_site, minlength=len(self.site_xy))
        graph = _location_graph(self.site_xy, site_weight, streets, diagram, region)
        if self.one_site_each:
            return graph
        return part.contract(graph, self.site_loc, self.xy, self.weight)


def _locations(xy: np.ndarray) -> _Locations:
    """Sites and locations of the shops at ``xy`` (metres); see :class:`_Locations`."""
    offset = np.floor(xy.min(axis=0) / SNAP_M)
    key = (np.round(xy / SNAP_M) - offset).astype(np.int64)
    # One integer per point, in the same order as sorting the rows (x, then y):
    # a 1-D unique is several times faster than unique(axis=0).
    flat = key[:, 0] * (int(key[:, 1].max()) + 1) + key[:, 1]
    _, first, shop_site = np.unique(flat, return_index=True, return_inverse=True)
    shop_site = shop_site.ravel().astype(np.int64)
    site_xy = (key[first] + offset) * SNAP_M
    pairs = cKDTree(site_xy).query_pairs(SAME_LOCATION_M, output_type="ndarray")
    if len(pairs) == 0:
        site_loc = np.arange(len(site_xy), dtype=np.int64)
    else:
        n = len(site_xy)
        links = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, component = connected_components(links, directed=False)
        # Number locations in the order of their first site.
        _, first_site, site_loc = np.unique(component, return_index=True, return_inverse=True)
        site_loc = np.argsort(np.argsort(first_site))[site_loc].astype(np.int64)
    n_loc = int(site_loc.max()) + 1
    first_site = np.full(n_loc, len(site_xy), dtype=np.int64)
    np.minimum.at(first_site, site_loc, np.arange(len(site_xy)))
    shop_loc = site_loc[shop_site]
    return _Locations(
        xy=site_xy[first_site],
        first_site=first_site,
        weight=np.bincount(shop_loc, minlength=n_loc).astype(np.int64),
        shop=shop_loc,
        site_xy=site_xy,
        site_loc=site_loc,
        shop_site=shop_site,
    )


def _location_graph(
    loc_xy: np.ndarray,
    weights: np.ndarray,
    streets: dict[str, np.ndarray],
    diagram: Diagram,
    region: shapely.Geometry,
) -> part.Graph:
    indptr, indices, ridge = diagram.indptr, diagram.indices, diagram.ridge
    ew = part.ridge_weights(ridge).astype(np.float64)
    src = np.repeat(np.arange(len(loc_xy)), np.diff(indptr))
    upper = src < indices
    factor, main = _crossings(loc_xy[src[upper]], loc_xy[indices[upper]], streets)
    keep = cells_touch_within(diagram, region, src[upper], indices[upper])
    pair = _undirected_index(src, indices, upper)
    ew = np.maximum(1, np.round(ew * factor[pair])).astype(np.int64)
    graph = part.Graph(loc_xy, weights, indptr, indices, ew, barrier=main[pair])
    if keep.all():
        return graph
    return part.keep_edges(graph, keep[pair])


def _crossings(
    a: np.ndarray, b: np.ndarray, streets: dict[str, np.ndarray], *, chunk: int = 200_000
) -> tuple[np.ndarray, np.ndarray]:
    """Weight factor of each segment a-b for the streets it crosses, and whether one is main."""
    factor = np.ones(len(a))
    main = np.zeros(len(a), dtype=bool)
    trees = {
        cls: shapely.STRtree(lines)
        for cls, lines in streets.items()
        if len(lines) and (CROSSING_FACTOR[cls] < 1 or cls == "main")
    }
    # In chunks: a million locations make three million segments, too many
    # geometries to hold at once.
    for lo in range(0, len(a), chunk):
        segments = shapely.linestrings(np.stack([a[lo : lo + chunk], b[lo : lo + chunk]], axis=1))
        for cls, tree in trees.items():
            hits = lo + np.unique(tree.query(segments, predicate="intersects")[0])
            factor[hits] = np.minimum(factor[hits], CROSSING_FACTOR[cls])
            if cls == "main":
                main[hits] = True
    return factor, main


def _undirected_index(src: np.ndarray, dst: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """For every directed edge, the index of its undirected edge among ``upper``."""
    n = int(max(src.max(initial=0), dst.max(initial=0))) + 1
    key_upper = src[upper] * n + dst[upper]
    order = np.argsort(key_upper, kind="stable")
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    return order[np.searchsorted(key_upper[order], lo * n + hi)]


def _partition(
    graph: part.Graph,
    building: np.ndarray,
    *,
    target: int,
    min_size: int,
    max_size: int,
    seed: int,
) -> np.ndarray:
    labels = np.full(graph.n, -1, dtype=np.int64)
    free = np.flatnonzero(~building)
    n_building = int(building.sum())
    labels[building] = np.arange(n_building)
    if free.size == 0:
        return labels
    sub, _ = part.subgraph(graph, free)
    sub = _cut_barriers(sub, min_size=min_size, max_size=max_size, target=target)
    sub_labels = part.metis_parts(
        sub, target=target, min_size=min_size, max_size=max_size, seed=seed
    )
    sub_labels = part.split_disconnected(sub, sub_labels)
    sub_labels, _ = part.repair_sizes(
        sub, sub_labels, target=target, min_size=min_size, max_size=max_size
    )
    labels[free] = n_building + part.compact_labels(sub_labels)
    return labels


def _cut_barriers(graph: part.Graph, *, min_size: int, max_size: int, target: int) -> part.Graph:
    """Drop main-road edges, except around pieces too small to be gridded alone."""
    if graph.barrier is None or not graph.barrier.any():
        return graph
    src = graph.sources()
    keep = ~graph.barrier
    for _ in range(8):
        cut = part.keep_edges(graph, keep)
        n_comp, comp = part.components(cut)
        totals = np.bincount(comp, weights=cut.weights).astype(np.int64)
        infeasible = np.array(
            [part.feasible_parts(int(t), target, min_size, max_size) is None for t in totals]
        )
        if not infeasible.any():
            return cut
        # Give the stranded pieces their road crossings back (both directions).
        stranded = infeasible[comp]
        restore = graph.barrier & (stranded[src] | stranded[graph.indices])
        if not (restore & ~keep).any():
            return cut
        keep |= restore
    return part.keep_edges(graph, keep)


def _anchors(xy: np.ndarray, labels: np.ndarray, n_labels: int) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(labels, minlength=n_labels))]
    return [xy[order[bounds[i] : bounds[i + 1]]] for i in range(n_labels)]


def _reading_order_codes(centre: np.ndarray, area: np.ndarray, *, prefix: str) -> np.ndarray:
    """Codes in reading order of the grids' shop centres.

    Rows run north to south, each as tall as a typical grid (square root of
    the median area), west to east within a row.
    """
    band = float(np.sqrt(np.median(area))) or 1.0
    row = np.floor((centre[:, 1].max() - centre[:, 1]) / band)
    order = np.lexsort((centre[:, 0], row))
    width = max(3, len(str(len(centre))))
    codes = np.empty(len(centre), dtype=object)
    codes[order] = [f"{prefix}{i + 1:0{width}d}" for i in range(len(centre))]
    return codes


def _code_scheme(codes: list[str]) -> tuple[str, int, int]:
    """Prefix, serial width and next free serial of existing codes."""
    parsed = [re.fullmatch(r"(.*?)(\d+)", c) for c in codes]
    good = [m for m in parsed if m]
    if not good:
        return "G", 3, 1
    prefix = good[0].group(1)
    width = max(len(m.group(2)) for m in good)
    return prefix, width, max(int(m.group(2)) for m in good) + 1
