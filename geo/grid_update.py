"""Updating grids: existing grids repaired after shops opened and closed (see :mod:`geo.gridding`).

Grids still within bounds keep their shops, code and polygon bit for bit;
only the area of the grids a repair involves is re-divided.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GriddingError, warn_out_of_bounds
from geo.graph import Graph, subgraph
from geo.grid_codes import next_codes
from geo.grid_inputs import check_grids, check_shops, check_sizes, street_lines
from geo.locations import Locations, group_locations
from geo.metric import SNAP_M, containing_polygon, metric_crs, metric_xy, reproject
from geo.repair import RepairLog, repair_sizes
from geo.voronoi import absorb_fragments, clip_to, dissolve_cells, group_points, voronoi_diagram


@dataclass(frozen=True)
class GridChanges:
    """What :func:`update_grids` changed, by grid code.

    Examples
    --------
    >>> GridChanges(0, {"G001": ["G004"]}, {}, [], ["G004"], [], ["G001", "G004"], []).as_dict()["split"]
    {'G001': ['G004']}
    """

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
    # Long: over 60 lines by its numpydoc docstring alone; the steps are the functions below it.
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
    >>> from geo.grid_build import build_grids
    >>> pts = [shapely.Point(118.9 + i * 1e-4, 25.1 + (i % 2) * 1e-4) for i in range(30)]
    >>> shops = gpd.GeoDataFrame(geometry=pts, crs=4326)
    >>> grids, _ = build_grids(shops)
    >>> new, codes, changes = update_grids(grids, shops.iloc[:-1])
    >>> changes.shops_moved
    0
    """
    check_sizes(target, min_size, max_size)
    check_shops(shops, min_size=min_size)
    check_grids(grids)
    crs = metric_crs(shops)
    old = grids.reset_index(drop=True)
    old_poly = reproject(old.geometry.values, old.crs, crs)
    xy = metric_xy(shops, crs)
    streets_m = street_lines(streets, crs)

    locs = group_locations(xy)
    site_old = _old_grid_of_sites(old_poly, locs, shops)
    region = _union_of_coverage(old_poly)
    graph = locs.graph(voronoi_diagram(locs.site_xy, region, grid_size=SNAP_M), streets_m, region)
    old_building = (
        old["building"].to_numpy(dtype=bool) if "building" in old else np.zeros(len(old), bool)
    )
    step = _relabel(
        graph, locs, site_old, old_building, target=target, min_size=min_size, max_size=max_size
    )
    zone_old, zone_labels = _redrawn_zone(step, old_poly)
    polygons = _redraw(old, crs, locs, step, zone_old, zone_labels)
    codes = next_codes(old["code"].astype(str).tolist(), step.present)

    alive = np.flatnonzero(step.present)
    sizes, is_building = _sizes_and_malls(step, locs)
    out = gpd.GeoDataFrame(
        {
            "code": codes[alive],
            "n_shops": sizes[alive].astype(np.int64),
            "building": is_building[alive],
        },
        geometry=list(polygons[alive]),
        crs=grids.crs,
    ).sort_values("code", ignore_index=True)
    shop_codes = pd.Series(codes[step.labels[locs.shop]], index=shops.index, name="grid_code")
    moved = int((step.labels[locs.shop] != site_old[locs.shop_site]).sum())
    warn_out_of_bounds(codes[alive], sizes[alive], is_building[alive], min_size, max_size)
    return out, shop_codes, _changes(step, codes, zone_labels, moved)


@dataclass(frozen=True)
class _Relabel:
    """The locations' grids before and after the repair (labels of old grids are their rows)."""

    labels: np.ndarray
    old_label: np.ndarray
    building: np.ndarray  # locations that hold a mall
    old_building: np.ndarray  # old grids that were mall grids
    straddled_grids: set[int]
    appeared_building: list[int]
    log: RepairLog
    present: np.ndarray  # labels that hold shops after the repair
    retired: list[int]

    @property
    def n_old(self) -> int:
        return len(self.old_building)


def _old_grid_of_sites(old_poly: np.ndarray, locs: Locations, shops: gpd.GeoDataFrame) -> np.ndarray:
    """Old grid of every site; every shop must lie in one."""
    site_old = containing_polygon(old_poly, locs.site_xy)
    outside = site_old[locs.shop_site] < 0
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise GriddingError(
            f"{int(outside.sum())} shops lie outside every existing grid "
            f"(first: row {shops.index[first]!r}); update_grids needs every shop inside "
            "the old grids - rebuild with build_grids and a larger boundary instead"
        )
    return site_old


def _relabel(
    graph: Graph,
    locs: Locations,
    site_old: np.ndarray,
    old_building: np.ndarray,
    *,
    target: int,
    min_size: int,
    max_size: int,
) -> _Relabel:
    """Every location in its old grid, malls in their own, then the sizes repaired."""
    n_old = len(old_building)
    # A location belongs where its first site lies; one whose sites straddle
    # old grids (a shop opened beside a border) makes those grids redrawn.
    old_label = site_old[locs.first_site]
    straddled = site_old != old_label[locs.site_loc]
    straddled_grids = set(site_old[straddled].tolist()) | set(old_label[locs.site_loc[straddled]].tolist())
    building = locs.weight > max_size
    labels = old_label.copy()
    # A location that now holds a mall becomes its own building grid.
    next_label = n_old
    for loc in np.flatnonzero(building):
        lab = labels[loc]
        if old_building[lab] and (labels == lab).sum() == 1:
            continue
        labels[loc] = next_label
        next_label += 1
    appeared_building = list(range(n_old, next_label))

    free = ~building
    sub, _ = subgraph(graph, np.flatnonzero(free))
    sub_labels, log = repair_sizes(
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
    return _Relabel(
        labels=labels,
        old_label=old_label,
        building=building,
        old_building=old_building,
        straddled_grids=straddled_grids,
        appeared_building=appeared_building,
        log=log,
        present=present,
        retired=[lab for lab in range(n_old) if not present[lab]],
    )


def _redrawn_zone(step: _Relabel, old_poly: np.ndarray) -> tuple[set[int], list[int]]:
    """Old grids whose area is re-divided, and the labels of the grids drawn in it."""
    n_old, labels = step.n_old, step.labels
    touched = set(step.appeared_building)
    touched.update(_log_labels(step.log))
    touched.update(int(labels[loc]) for loc in np.flatnonzero(step.building) if int(labels[loc]) < n_old)
    zone_old = {lab for lab in touched if lab < n_old} | set(step.retired) | step.straddled_grids
    for loc in np.flatnonzero(step.building):
        zone_old.add(int(step.old_label[loc]))
    # An emptied grid's area goes to its neighbours, which are then reshaped.
    tree = shapely.STRtree(old_poly)
    for lab in step.retired:
        for k in tree.query(old_poly[lab], predicate="intersects"):
            if step.present[k] and k not in zone_old:
                zone_old.add(int(k))
    zone_labels = sorted({int(lab) for lab in np.unique(labels) if lab in zone_old or lab >= n_old})
    return zone_old, zone_labels


def _redraw(
    old: gpd.GeoDataFrame,
    crs,
    locs: Locations,
    step: _Relabel,
    zone_old: set[int],
    zone_labels: list[int],
) -> np.ndarray:
    """Polygon of every label: old grids untouched, the zone re-divided, retired ones None."""
    polygons = np.empty(len(step.present), dtype=object)
    # Untouched grids keep their input geometry bit for bit; the repaired area
    # is re-divided in the input CRS, against the exact outline of the old
    # grids it replaces, so that no projection round trip opens slivers
    # against the neighbours (which compound over repeated updates).
    polygons[: step.n_old] = old.geometry.values
    if zone_labels:
        zone = shapely.union_all(old.geometry.values[sorted(zone_old)])
        site_labels = step.labels[locs.site_loc]
        in_zone = np.isin(site_labels, zone_labels)
        zone_xy = locs.site_xy[in_zone]
        zone_lab = site_labels[in_zone]
        local = {lab: i for i, lab in enumerate(zone_labels)}
        local_lab = np.array([local[int(v)] for v in zone_lab], dtype=np.int64)
        zone_metric = reproject(np.array([zone], dtype=object), old.crs, crs)[0]
        zone_diagram = voronoi_diagram(zone_xy, zone_metric, grid_size=SNAP_M)
        # Dissolved in metres (where Voronoi cells mean something), clipped in
        # the grids' own CRS; shared vertices reproject identically.
        cells = reproject(dissolve_cells(zone_diagram, local_lab, len(zone_labels)), crs, old.crs)
        new_poly = clip_to(cells, zone)
        anchor_xy = shapely.get_coordinates(reproject(shapely.points(zone_xy), crs, old.crs))
        new_poly = absorb_fragments(new_poly, group_points(anchor_xy, local_lab, len(zone_labels)))
        for lab, poly in zip(zone_labels, new_poly, strict=True):
            polygons[lab] = _largest_polygon(poly) if shapely.get_type_id(poly) == 7 else poly
    for lab in step.retired:
        polygons[lab] = None
    return polygons


def _sizes_and_malls(step: _Relabel, locs: Locations) -> tuple[np.ndarray, np.ndarray]:
    """Shops per label, and which labels are mall grids."""
    n = len(step.present)
    sizes = np.bincount(step.labels[locs.shop], minlength=n)
    is_building = np.zeros(n, dtype=bool)
    is_building[: step.n_old] = step.old_building
    is_building[step.labels[step.building]] = True
    is_building[step.labels[~step.building]] = False
    return sizes, is_building


def _changes(step: _Relabel, codes: np.ndarray, zone_labels: list[int], moved: int) -> GridChanges:
    """The repair log told in grid codes; parts made and merged again are left out."""
    log, present = step.log, step.present

    def code_of(lab: int) -> str:
        return str(codes[lab])

    def real(lab: int) -> bool:
        return codes[lab] is not None

    return GridChanges(
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
        appeared=[code_of(lab) for lab in range(step.n_old, len(present)) if present[lab]],
        retired=[code_of(lab) for lab in step.retired],
        reshaped=sorted(code_of(lab) for lab in zone_labels),
        unresolved=sorted({code_of(p) for p in log.unresolved}),
    )


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


def _final_label(lab: int, merged: dict[int, int], present: np.ndarray) -> int:
    """Where a merged part's shops ended up, following merges of merges."""
    seen = set()
    while lab in merged and not present[lab] and lab not in seen:
        seen.add(lab)
        lab = merged[lab]
    return lab


def _log_labels(log: RepairLog) -> set[int]:
    out: set[int] = set()
    for p, qs in log.split.items():
        out.add(p)
        out.update(qs)
    for p, q in log.merged.items():
        out.update((p, q))
    for group in log.rebalanced:
        out.update(group)
    return out
