"""Building grids: a district's shops partitioned into new grids (see :mod:`geo.gridding`)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import warn_out_of_bounds
from geo.graph import Graph, components, keep_edges, subgraph
from geo.grid_codes import reading_order_codes
from geo.grid_inputs import check_inside, check_shops, check_sizes, district_region, street_lines
from geo.locations import Locations, group_locations
from geo.metric import SNAP_M, metric_crs, metric_xy, reproject
from geo.partition import compact_labels, feasible_parts, metis_parts
from geo.repair import repair_seams
from geo.tiling import TileMap
from geo.voronoi import absorb_fragments, clip_to, dissolve_cells, group_points, voronoi_diagram


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
    map_tiles: TileMap | None = None,
) -> tuple[gpd.GeoDataFrame, pd.Series]:
    # Long: over 60 lines by its numpydoc docstring alone; the steps are the functions below it.
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
    map_tiles : callable, optional
        Who runs the independent pieces of work (METIS per tile, street
        crossings and polygons per chunk): a callable like :func:`map` that
        returns a list in the pieces' order (:mod:`geo.tiling`). Default: this
        process. The grids do not depend on it.

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
    check_sizes(target, min_size, max_size)
    check_shops(shops, min_size=min_size)
    crs = metric_crs(shops)
    xy = metric_xy(shops, crs)
    region = district_region(boundary, crs, xy, margin=margin)
    check_inside(shops, xy, region)
    streets_m = street_lines(streets, crs)

    locs = group_locations(xy)
    diagram = voronoi_diagram(locs.site_xy, region, grid_size=SNAP_M)
    graph = locs.graph(diagram, streets_m, region, map_tiles=map_tiles)
    building = locs.weight > max_size
    labels = _partition(
        graph, building, target=target, min_size=min_size, max_size=max_size, seed=seed,
        map_tiles=map_tiles,
    )

    n_labels = int(labels.max()) + 1
    site_labels = labels[locs.site_loc]
    polygons = clip_to(
        dissolve_cells(diagram, site_labels, n_labels, map_tiles=map_tiles), region
    )
    del diagram
    anchors = group_points(locs.site_xy, site_labels, n_labels)
    polygons = _settle(absorb_fragments(polygons, anchors))

    sizes, is_building, centre = _grid_figures(locs, labels, building, n_labels)
    codes = reading_order_codes(centre, shapely.area(polygons), prefix=prefix)
    warn_out_of_bounds(codes, sizes, is_building, min_size, max_size)

    grids = gpd.GeoDataFrame(
        {"code": codes, "n_shops": sizes.astype(np.int64), "building": is_building},
        geometry=reproject(polygons, crs, shops.crs),
        crs=shops.crs,
    )
    shop_codes = pd.Series(codes[labels[locs.shop]], index=shops.index, name="grid_code")
    return grids.sort_values("code", ignore_index=True), shop_codes


def _grid_figures(
    locs: Locations, labels: np.ndarray, building: np.ndarray, n_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shops per grid, whether it is a mall grid, and the centre of its shops."""
    loc_xy, loc_weight = locs.xy, locs.weight
    sizes = np.bincount(labels[locs.shop], minlength=n_labels)
    is_building = np.zeros(n_labels, dtype=bool)
    is_building[labels[building]] = True
    centre = (
        np.c_[
            np.bincount(labels, weights=loc_xy[:, 0] * loc_weight, minlength=n_labels),
            np.bincount(labels, weights=loc_xy[:, 1] * loc_weight, minlength=n_labels),
        ]
        / np.maximum(np.bincount(labels, weights=loc_weight, minlength=n_labels), 1)[:, None]
    )
    return sizes, is_building, centre


def _partition(
    graph: Graph,
    building: np.ndarray,
    *,
    target: int,
    min_size: int,
    max_size: int,
    seed: int,
    map_tiles: TileMap | None,
) -> np.ndarray:
    labels = np.full(graph.n, -1, dtype=np.int64)
    free = np.flatnonzero(~building)
    n_building = int(building.sum())
    labels[building] = np.arange(n_building)
    if free.size == 0:
        return labels
    sub, _ = subgraph(graph, free)
    sub = _cut_barriers(sub, min_size=min_size, max_size=max_size, target=target)
    sub_labels = metis_parts(
        sub, target=target, min_size=min_size, max_size=max_size, seed=seed, map_tiles=map_tiles
    )
    sub_labels = repair_seams(sub, sub_labels, target=target, min_size=min_size, max_size=max_size)
    labels[free] = n_building + compact_labels(sub_labels)
    return labels


def _cut_barriers(graph: Graph, *, min_size: int, max_size: int, target: int) -> Graph:
    """Drop main-road edges, except around pieces too small to be gridded alone."""
    if graph.barrier is None or not graph.barrier.any():
        return graph
    src = graph.sources()
    keep = ~graph.barrier
    for _ in range(8):
        cut = keep_edges(graph, keep)
        n_comp, comp = components(cut)
        totals = np.bincount(comp, weights=cut.weights).astype(np.int64)
        infeasible = np.array(
            [feasible_parts(int(t), target, min_size, max_size) is None for t in totals]
        )
        if not infeasible.any():
            return cut
        # Give the stranded pieces their road crossings back (both directions).
        stranded = infeasible[comp]
        restore = graph.barrier & (stranded[src] | stranded[graph.indices])
        if not (restore & ~keep).any():
            return cut
        keep |= restore
    return keep_edges(graph, keep)


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
