"""Balanced, contiguous partitions of a location graph by METIS, tile by tile.

Parts are grown by METIS on tiles of about ``TILE_SHOPS`` shops (so the work
stays linear in the number of shops), then every part in several pieces is
split into connected ones. :mod:`geo.repair` then puts them within the size
bounds, across the seams between tiles too.

Each tile is one :class:`TileJob`, partitioned by the pure
:func:`partition_tile`; :func:`metis_parts` hands the jobs to a tile map
(:mod:`geo.tiling`): in this process by default, on Dask workers from
``linpu grids build``. Seeds are fixed per tile and results are put back in
tile order, so the labels do not depend on who ran the tiles.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pymetis

from geo.graph import Graph, components, keep_edges, ranges, subgraph
from geo.tiling import TileMap, in_process

# Work per METIS call grows faster than linearly with the number of parts, so
# large inputs are cut into tiles of about this many shops first.
TILE_SHOPS = 2_000


@dataclass(frozen=True)
class TileJob:
    """One connected piece of a tile to cut into ``k`` parts: its graph in CSR form.

    Everything :func:`partition_tile` needs and nothing more, so that it can
    be sent to another process as it is.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    edge_weights: np.ndarray
    k: int
    seed: int
    ufactor: int


def feasible_parts(total: int, target: int, min_size: int, max_size: int) -> int | None:
    """Number of parts for ``total`` shops, nearest to total/target, all in bounds.

    Examples
    --------
    >>> feasible_parts(25, 10, 8, 12), feasible_parts(13, 10, 8, 12)
    (3, None)
    """
    lo = -(-total // max_size)
    hi = total // min_size
    if lo > hi or hi == 0:
        return None
    return int(min(max(round(total / target), lo), hi))


def tiles_by_count(
    xy: np.ndarray, weights: np.ndarray, *, tile_weight: int, target: int
) -> np.ndarray:
    """Tile id per node: recursive median cuts at multiples of ``target`` shops.

    Examples
    --------
    >>> xy = np.c_[np.arange(20.0), np.zeros(20)]
    >>> tiles_by_count(xy, np.ones(20), tile_weight=10, target=10).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    tile = np.zeros(len(xy), dtype=np.int64)
    stack = [np.arange(len(xy))]
    next_id = 0
    while stack:
        nodes = stack.pop()
        total = int(weights[nodes].sum())
        if total <= tile_weight or len(nodes) < 2:
            tile[nodes] = next_id
            next_id += 1
            continue
        extent = np.ptp(xy[nodes], axis=0)
        axis = int(np.argmax(extent))
        order = nodes[np.argsort(xy[nodes, axis], kind="stable")]
        cum = np.cumsum(weights[order])
        half = target * max(1, round(total / target / 2))
        cut = int(np.searchsorted(cum, half)) + 1
        cut = min(max(cut, 1), len(order) - 1)
        stack.extend([order[cut:], order[:cut]])
    return tile


def metis_parts(
    graph: Graph,
    *,
    target: int,
    min_size: int,
    max_size: int,
    seed: int,
    tile_shops: int | None = None,
    map_tiles: TileMap | None = None,
) -> np.ndarray:
    """Initial part label per node (contiguous within each tile and component).

    The tiles are independent :class:`TileJob` s, run by ``map_tiles`` (see
    :mod:`geo.tiling`; default: in this process); the result does not depend
    on who runs them.

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])  # 20 shops in a row
    >>> metis_parts(street, target=10, min_size=8, max_size=12, seed=0).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    pieces, jobs = tile_jobs(
        graph, target=target, min_size=min_size, max_size=max_size, seed=seed,
        tile_shops=tile_shops,
    )
    results = iter((map_tiles or in_process)(partition_tile, jobs))
    labels = np.full(graph.n, -1, dtype=np.int64)
    for nodes, first, by_metis in pieces:
        labels[nodes] = first + next(results) if by_metis else first
    return compact_labels(labels)


def tile_jobs(
    graph: Graph,
    *,
    target: int,
    min_size: int,
    max_size: int,
    seed: int,
    tile_shops: int | None = None,
) -> tuple[list[tuple[np.ndarray, int, bool]], list[TileJob]]:
    """The connected pieces of every tile, and a :class:`TileJob` for each that needs several parts.

    Each piece is ``(nodes, first label, partitioned by METIS)``; the jobs are
    in the order of the pieces that have one. Tiles are cut by count
    (:func:`tiles_by_count`), so they are the same whoever runs them.

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(40.0), np.zeros(40)])  # 40 shops in a row
    >>> pieces, jobs = tile_jobs(street, target=10, min_size=8, max_size=12, seed=0, tile_shops=20)
    >>> [(len(nodes), first) for nodes, first, _ in pieces], [job.k for job in jobs]
    ([(20, 0), (20, 2)], [2, 2])
    """
    tile = tiles_by_count(
        graph.xy, graph.weights, tile_weight=tile_shops or TILE_SHOPS, target=target
    )
    # METIS may exceed the average part weight by ufactor/1000; allowing it
    # up to max_size lets parts follow the shape of the district.
    ufactor = int(max(1, round(1000 * (max_size / target - 1))))
    order = np.argsort(tile, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(tile))]
    # Every node's id within its tile, once: a subgraph per tile through the
    # whole graph's ids would cost the whole graph per tile (quadratic).
    in_tile = np.empty(graph.n, dtype=np.int64)
    in_tile[order] = np.arange(graph.n) - np.repeat(bounds[:-1], np.diff(bounds))
    pieces: list[tuple[np.ndarray, int, bool]] = []
    jobs: list[TileJob] = []
    next_label = 0
    for t in range(len(bounds) - 1):
        # Stable order: each tile's nodes come out in ascending id.
        nodes = order[bounds[t] : bounds[t + 1]]
        sub = _tile_graph(graph, nodes, tile, in_tile, t)
        n_comp, comp = components(sub)
        comp_order = np.argsort(comp, kind="stable")
        comp_bounds = np.r_[0, np.cumsum(np.bincount(comp, minlength=n_comp))]
        for c in range(n_comp):
            local = np.sort(comp_order[comp_bounds[c] : comp_bounds[c + 1]])
            total = int(sub.weights[local].sum())
            k = feasible_parts(total, target, min_size, max_size) or max(1, round(total / target))
            pieces.append((nodes[local], next_label, k > 1))
            if k > 1:
                part, _ = subgraph(sub, local)
                jobs.append(
                    TileJob(part.indptr, part.indices, part.weights, part.edge_weights,
                            k=k, seed=seed, ufactor=ufactor)
                )
            next_label += k
    return pieces, jobs


def _tile_graph(
    graph: Graph, nodes: np.ndarray, tile: np.ndarray, in_tile: np.ndarray, t: int
) -> Graph:
    """``subgraph(graph, nodes)[0]`` for the (ascending) ``nodes`` of tile ``t``, in their size."""
    starts = graph.indptr[nodes]
    counts = graph.indptr[nodes + 1] - starts
    take = ranges(starts, counts)
    dst = graph.indices[take]
    keep = tile[dst] == t
    src = np.repeat(np.arange(len(nodes)), counts)[keep]
    indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.add.at(indptr, src + 1, 1)
    return Graph(
        xy=graph.xy[nodes],
        weights=graph.weights[nodes],
        indptr=np.cumsum(indptr),
        indices=in_tile[dst[keep]],
        edge_weights=graph.edge_weights[take][keep],
        barrier=None if graph.barrier is None else graph.barrier[take][keep],
    )


def partition_tile(job: TileJob) -> np.ndarray:
    """Part label ``0..k-1`` of every node of one tile, by METIS (pure: same job, same labels).

    Examples
    --------
    >>> from geo.graph import Graph
    >>> g = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])
    >>> job = TileJob(g.indptr, g.indices, g.weights, g.edge_weights, k=2, seed=0, ufactor=200)
    >>> partition_tile(job).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    options = pymetis.Options(seed=int(job.seed), contig=1, ufactor=int(job.ufactor))
    adjacency = pymetis.CSRAdjacency(job.indptr, job.indices)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pymetis.part_graph(
            job.k,
            adjacency,
            vweights=job.weights,
            eweights=job.edge_weights if len(job.edge_weights) else None,
            options=options,
        )
    return np.asarray(result.vertex_part, dtype=np.int64)


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... in the order of their values.

    Examples
    --------
    >>> compact_labels(np.array([7, 3, 7, 9])).tolist()
    [1, 0, 1, 2]
    """
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64)


def split_disconnected(graph: Graph, labels: np.ndarray) -> np.ndarray:
    """Give every connected piece of a part its own label (the largest keeps the old one).

    METIS only *tries* to keep parts contiguous; a part in two pieces would
    make a grid polygon in two pieces.

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])  # 20 shops in a row
    >>> both_ends = np.r_[np.zeros(5, int), np.ones(10, int), np.zeros(5, int)]
    >>> split_disconnected(street, both_ends).tolist()
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    """
    src = graph.sources()
    inner = keep_edges(graph, labels[src] == labels[graph.indices])
    _, comp = components(inner)
    pairs, inverse = np.unique(np.c_[labels, comp], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    if len(pairs) == len(np.unique(labels)):
        return labels
    weight = np.bincount(inverse, weights=graph.weights)
    # Within each label, the heaviest piece first.
    order = np.lexsort((-weight, pairs[:, 0]))
    first = np.r_[True, pairs[order[1:], 0] != pairs[order[:-1], 0]]
    new_label = np.empty(len(pairs), dtype=np.int64)
    new_label[order[first]] = pairs[order[first], 0]
    extra = order[~first]
    new_label[extra] = labels.max() + 1 + np.arange(len(extra))
    return new_label[inverse]

