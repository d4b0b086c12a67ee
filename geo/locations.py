"""Shops grouped into sites and locations, and the neighbour graph of the locations.

A location is one entrance: shops less than ``SAME_LOCATION_M`` apart always
share a grid. Two locations are neighbours when their Voronoi cells share a
border inside the district; the edge between them weighs the length of that
border, made lighter where it crosses a street and marked as a barrier where
it crosses a main road.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.graph import Graph, contract, keep_edges, ridge_weights
from geo.metric import SNAP_M
from geo.tiling import TileMap, chunk_bounds, in_process
from geo.voronoi import Diagram, cells_touch_within

# How much lighter an edge gets when it crosses a street of each class.
CROSSING_FACTOR = {"main": 0.02, "street": 0.8, "lane": 1.0}
# Shops closer than this share one location (one entrance, one building).
SAME_LOCATION_M = 0.1
# Graph edges per crossing test: a million locations make three million edges,
# too many segments to hold at once, and each chunk is one piece of tile work.
CROSSING_CHUNK = 400_000


@dataclass(frozen=True)
class Locations:
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

    Examples
    --------
    >>> locs = group_locations(np.array([[0.0, 0.0], [0.05, 0.0], [10.0, 0.0], [10.0, 0.0]]))
    >>> locs.weight.tolist(), locs.shop.tolist(), len(locs.site_xy)
    ([2, 2], [0, 0, 1, 1], 3)
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

    def graph(
        self, diagram: Diagram, streets, region, *, map_tiles: TileMap | None = None
    ) -> Graph:
        """Neighbour graph of the locations, from the Voronoi diagram of the sites.

        The street crossings of the edges are tested a chunk at a time through
        ``map_tiles`` (see :mod:`geo.tiling`).
        """
        site_weight = np.bincount(self.shop_site, minlength=len(self.site_xy))
        graph = _location_graph(
            self.site_xy, site_weight, streets, diagram, region, map_tiles or in_process
        )
        if self.one_site_each:
            return graph
        return contract(graph, self.site_loc, self.xy, self.weight)


def group_locations(xy: np.ndarray) -> Locations:
    """Sites and locations of the shops at ``xy`` (metres); see :class:`Locations`.

    Examples
    --------
    Two shops 5 cm apart share a location; two at one point share a site too:

    >>> locs = group_locations(np.array([[0.0, 0.0], [0.05, 0.0], [10.0, 0.0], [10.0, 0.0]]))
    >>> locs.shop.tolist(), locs.shop_site.tolist()
    ([0, 0, 1, 1], [0, 1, 2, 2])
    """
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
    return Locations(
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
    map_tiles: TileMap,
) -> Graph:
    indptr, indices, ridge = diagram.indptr, diagram.indices, diagram.ridge
    ew = ridge_weights(ridge).astype(np.float64)
    src = np.repeat(np.arange(len(loc_xy)), np.diff(indptr))
    upper = src < indices
    factor, main = _crossings(loc_xy[src[upper]], loc_xy[indices[upper]], streets, map_tiles)
    keep = cells_touch_within(diagram, region, src[upper], indices[upper])
    pair = _undirected_index(src, indices, upper)
    ew = np.maximum(1, np.round(ew * factor[pair])).astype(np.int64)
    graph = Graph(loc_xy, weights, indptr, indices, ew, barrier=main[pair])
    if keep.all():
        return graph
    return keep_edges(graph, keep[pair])


def _crossings(
    a: np.ndarray, b: np.ndarray, streets: dict[str, np.ndarray], map_tiles: TileMap
) -> tuple[np.ndarray, np.ndarray]:
    """Weight factor of each segment a-b for the streets it crosses, and whether one is main."""
    ends = {
        cls: shapely.get_coordinates(lines).reshape(-1, 2, 2)
        for cls, lines in streets.items()
        if len(lines) and (CROSSING_FACTOR[cls] < 1 or cls == "main")
    }
    jobs = [
        CrossingJob(a[lo:hi], b[lo:hi], _near(ends, a[lo:hi], b[lo:hi]))
        for lo, hi in chunk_bounds(len(a), size=CROSSING_CHUNK)
    ]
    results = map_tiles(street_crossings, jobs)
    if not results:
        return np.ones(0), np.zeros(0, dtype=bool)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def _near(ends: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """The street segments whose box meets the box of the segments a-b: the only ones they can cross.

    Edges come in the order of their first location, which runs west to east,
    so a chunk covers a strip of the district; sending it every street would
    make the work grow with the square of the district.
    """
    if len(a) == 0:
        return {cls: seg[:0] for cls, seg in ends.items()}
    lo = np.minimum(a.min(axis=0), b.min(axis=0))
    hi = np.maximum(a.max(axis=0), b.max(axis=0))
    out = {}
    for cls, seg in ends.items():
        s_lo, s_hi = seg.min(axis=1), seg.max(axis=1)
        out[cls] = seg[((s_hi >= lo) & (s_lo <= hi)).all(axis=1)]
    return out


@dataclass(frozen=True)
class CrossingJob:
    """Segments ``a[i]``-``b[i]`` to test against street segments (ends as (n, 2, 2), by class)."""

    a: np.ndarray
    b: np.ndarray
    streets: dict[str, np.ndarray]


def street_crossings(job: CrossingJob) -> tuple[np.ndarray, np.ndarray]:
    """Weight factor of each segment for the streets it crosses, and whether one is a main road.

    Pure: one chunk of graph edges, sent to whoever runs the tile work.

    Examples
    --------
    >>> main = np.array([[[5.0, -10.0], [5.0, 10.0]]])
    >>> job = CrossingJob(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[10.0, 0.0], [1.0, 0.0]]),
    ...                   {"main": main})
    >>> factor, crosses_main = street_crossings(job)
    >>> factor.tolist(), crosses_main.tolist()
    ([0.02, 1.0], [True, False])
    """
    factor = np.ones(len(job.a))
    main = np.zeros(len(job.a), dtype=bool)
    segments = shapely.linestrings(np.stack([job.a, job.b], axis=1))
    for cls, ends in job.streets.items():
        tree = shapely.STRtree(shapely.linestrings(ends))
        hits = np.unique(tree.query(segments, predicate="intersects")[0])
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
