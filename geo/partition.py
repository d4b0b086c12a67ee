"""Balanced, contiguous partitions of a location graph by METIS, tile by tile.

Parts are grown by METIS on tiles of about ``TILE_SHOPS`` shops (so the work
stays linear in the number of shops), then every part in several pieces is
split into connected ones. :mod:`geo.repair` then puts them within the size
bounds.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pymetis

from geo.graph import Graph, components, keep_edges, subgraph

# Work per METIS call grows faster than linearly with the number of parts, so
# large inputs are cut into tiles of about this many shops first.
TILE_SHOPS = 2_000
# Below this many locations, starting worker processes costs more than it saves.
PARALLEL_MIN_NODES = 200_000


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
    workers: int | None = None,
) -> np.ndarray:
    """Initial part label per node (contiguous within each tile and component).

    Tiles are independent, so above ``PARALLEL_MIN_NODES`` nodes they are
    partitioned in ``workers`` processes (default: one per CPU); the result
    does not depend on the number of workers.

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])  # 20 shops in a row
    >>> metis_parts(street, target=10, min_size=8, max_size=12, seed=0).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    tile = tiles_by_count(
        graph.xy, graph.weights, tile_weight=tile_shops or TILE_SHOPS, target=target
    )
    # METIS may exceed the average part weight by ufactor/1000; allowing it
    # up to max_size lets parts follow the shape of the district.
    ufactor = int(max(1, round(1000 * (max_size / target - 1))))
    pieces, jobs = _metis_jobs(
        graph, tile, target=target, min_size=min_size, max_size=max_size, seed=seed,
        ufactor=ufactor,
    )
    results = iter(_run_metis_jobs(jobs, workers=workers, n_nodes=graph.n))
    labels = np.full(graph.n, -1, dtype=np.int64)
    for nodes, first, by_metis in pieces:
        labels[nodes] = first + next(results) if by_metis else first
    return compact_labels(labels)


def _metis_jobs(
    graph: Graph,
    tile: np.ndarray,
    *,
    target: int,
    min_size: int,
    max_size: int,
    seed: int,
    ufactor: int,
) -> tuple[list[tuple[np.ndarray, int, bool]], list[tuple]]:
    """The connected pieces of every tile, and a METIS job for each that needs several parts.

    Each piece is ``(nodes, first label, partitioned by METIS)``; the jobs are
    in the order of the pieces that have one.
    """
    order = np.argsort(tile, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(tile))]
    pieces: list[tuple[np.ndarray, int, bool]] = []
    jobs: list[tuple] = []
    next_label = 0
    for t in range(len(bounds) - 1):
        nodes = np.sort(order[bounds[t] : bounds[t + 1]])
        sub, _ = subgraph(graph, nodes)
        n_comp, comp = components(sub)
        comp_order = np.argsort(comp, kind="stable")
        comp_bounds = np.r_[0, np.cumsum(np.bincount(comp, minlength=n_comp))]
        for c in range(n_comp):
            local = np.sort(comp_order[comp_bounds[c] : comp_bounds[c + 1]])
            total = int(sub.weights[local].sum())
            k = feasible_parts(total, target, min_size, max_size) or max(1, round(total / target))
            pieces.append((nodes[local], next_label, k > 1))
            if k <= 1:
                next_label += 1
                continue
            part_graph, _ = subgraph(sub, local)
            jobs.append(
                (
                    part_graph.indptr,
                    part_graph.indices,
                    part_graph.weights,
                    part_graph.edge_weights,
                    k,
                    seed,
                    ufactor,
                )
            )
            next_label += k
    return pieces, jobs


def _run_metis_jobs(jobs: list[tuple], *, workers: int | None, n_nodes: int) -> list[np.ndarray]:
    """Part labels of every job, in worker processes when the graph is large enough."""
    workers = workers or os.cpu_count() or 1
    if workers > 1 and n_nodes >= PARALLEL_MIN_NODES and len(jobs) > 1:
        # fork, not spawn: a spawned worker re-imports the caller's main script.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(_metis_job, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    return [_metis_job(job) for job in jobs]


def _metis_job(job: tuple) -> np.ndarray:
    indptr, indices, vweights, eweights, k, seed, ufactor = job
    options = pymetis.Options(seed=int(seed), contig=1, ufactor=int(ufactor))
    adjacency = pymetis.CSRAdjacency(indptr, indices)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pymetis.part_graph(
            k,
            adjacency,
            vweights=vweights,
            eweights=eweights if len(eweights) else None,
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

