"""Balanced, contiguous partitions of a weighted location graph.

The nodes are distinct shop locations (weight = shops at that location), the
edges come from their Delaunay triangulation, so two nodes are adjacent exactly
when their Voronoi cells touch. Parts are grown by METIS and then put within
``[min_size, max_size]`` by local repairs that touch only the parts involved.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pymetis
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError

# Work per METIS call grows faster than linearly with the number of parts, so
# large inputs are cut into tiles of about this many shops first.
TILE_SHOPS = 2_000
# Below this many locations, starting worker processes costs more than it saves.
PARALLEL_MIN_NODES = 200_000


@dataclass
class Graph:
    """Undirected graph in CSR form; both directions of every edge are stored."""

    xy: np.ndarray
    weights: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    edge_weights: np.ndarray
    # Edges that cross a main road: cut first, kept only where a district
    # would otherwise be left with pieces too small for a grid.
    barrier: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.xy)

    def sources(self) -> np.ndarray:
        return np.repeat(np.arange(self.n), np.diff(self.indptr))


def delaunay_adjacency(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR adjacency of the Delaunay triangulation of distinct points ``xy``.

    Collinear inputs (one straight street) have no triangulation; their
    neighbours are then the previous and next point along the line.
    """
    n = len(xy)
    if n >= 3 and not _collinear(xy):
        try:
            indptr, indices = Delaunay(xy).vertex_neighbor_vertices
            return indptr.astype(np.int64), indices.astype(np.int64)
        except QhullError:
            pass
    if n <= 1:
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(_principal_projection(xy), kind="stable")
    src = np.r_[order[:-1], order[1:]]
    dst = np.r_[order[1:], order[:-1]]
    return _csr_from_edges(n, src, dst)


def _collinear(xy: np.ndarray) -> bool:
    centred = xy - xy.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(s[-1] <= 1e-9 * max(s[0], 1e-12) or s[-1] < 1e-6)


def _principal_projection(xy: np.ndarray) -> np.ndarray:
    centred = xy - xy.mean(axis=0)
    if len(xy) < 2:
        return centred[:, 0]
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[0]


def _csr_from_edges(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, src + 1, 1)
    return np.cumsum(indptr), dst.astype(np.int64)


def ridge_weights(ridge: np.ndarray) -> np.ndarray:
    """Integer edge weights proportional to the shared Voronoi border.

    METIS minimises the total weight of cut edges, which is then the total
    length of the borders between grids: the shortest borders for the given
    sizes make the most compact polygons.
    """
    if ridge.size == 0:
        return np.zeros(0, dtype=np.int64)
    ref = float(np.median(ridge)) or 1.0
    return np.clip(np.round(100.0 * ridge / ref), 1, 1000).astype(np.int64)


def subgraph(graph: Graph, nodes: np.ndarray) -> tuple[Graph, np.ndarray]:
    """The graph induced by ``nodes`` (sorted) and the map old id -> new id."""
    new_id = np.full(graph.n, -1, dtype=np.int64)
    new_id[nodes] = np.arange(len(nodes))
    starts, ends = graph.indptr[nodes], graph.indptr[nodes + 1]
    counts = ends - starts
    take = _ranges(starts, counts)
    dst = new_id[graph.indices[take]]
    src = np.repeat(np.arange(len(nodes)), counts)
    keep = dst >= 0
    indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.add.at(indptr, src[keep] + 1, 1)
    return (
        Graph(
            xy=graph.xy[nodes],
            weights=graph.weights[nodes],
            indptr=np.cumsum(indptr),
            indices=dst[keep],
            edge_weights=graph.edge_weights[take][keep],
            barrier=None if graph.barrier is None else graph.barrier[take][keep],
        ),
        new_id,
    )


def contract(graph: Graph, group: np.ndarray, xy: np.ndarray, weights: np.ndarray) -> Graph:
    """The graph of groups of nodes: node ``i`` becomes group ``group[i]``.

    Edges inside a group disappear; parallel edges between two groups become
    one whose weight is their sum and which is a barrier if any of them was.
    ``xy`` and ``weights`` describe the groups.

    Examples
    --------
    >>> g = Graph(np.zeros((3, 2)), np.ones(3), np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]),
    ...           np.array([5, 5, 7, 7]))
    >>> c = contract(g, np.array([0, 0, 1]), np.zeros((2, 2)), np.array([2, 1]))
    >>> c.indptr.tolist(), c.indices.tolist(), c.edge_weights.tolist()
    ([0, 1, 2], [1, 0], [7, 7])
    """
    n = len(xy)
    src, dst = group[graph.sources()], group[graph.indices]
    keep = src != dst
    pair = src[keep] * n + dst[keep]
    unique, inverse = np.unique(pair, return_inverse=True)
    edge_weights = np.bincount(inverse, weights=graph.edge_weights[keep], minlength=len(unique))
    barrier = None
    if graph.barrier is not None:
        barrier = np.zeros(len(unique), dtype=bool)
        np.logical_or.at(barrier, inverse, graph.barrier[keep])
    counts = np.bincount(unique // n, minlength=n)
    return Graph(
        xy=xy,
        weights=weights,
        indptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
        indices=(unique % n).astype(np.int64),
        edge_weights=edge_weights.astype(graph.edge_weights.dtype),
        barrier=barrier,
    )


def keep_edges(graph: Graph, keep: np.ndarray) -> Graph:
    """The graph with only the directed edges marked in ``keep`` (kept symmetric by the caller)."""
    kept_before = np.r_[0, np.cumsum(keep, dtype=np.int64)]
    counts = kept_before[graph.indptr[1:]] - kept_before[graph.indptr[:-1]]
    return Graph(
        xy=graph.xy,
        weights=graph.weights,
        indptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
        indices=graph.indices[keep],
        edge_weights=graph.edge_weights[keep],
        barrier=None if graph.barrier is None else graph.barrier[keep],
    )


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``range(s, s + c)`` for every start and count."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts)
    return np.arange(total) + offsets


def components(graph: Graph) -> tuple[int, np.ndarray]:
    m = csr_matrix(
        (np.ones(len(graph.indices), dtype=np.int8), graph.indices, graph.indptr),
        shape=(graph.n, graph.n),
    )
    return connected_components(m, directed=False)


def feasible_parts(total: int, target: int, min_size: int, max_size: int) -> int | None:
    """Number of parts for ``total`` shops, nearest to total/target, all in bounds."""
    lo = -(-total // max_size)
    hi = total // min_size
    if lo > hi or hi == 0:
        return None
    return int(min(max(round(total / target), lo), hi))


def tiles_by_count(
    xy: np.ndarray, weights: np.ndarray, *, tile_weight: int, target: int
) -> np.ndarray:
    """Tile id per node: recursive median cuts at multiples of ``target`` shops."""
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
    """
    labels = np.full(graph.n, -1, dtype=np.int64)
    tile = tiles_by_count(
        graph.xy, graph.weights, tile_weight=tile_shops or TILE_SHOPS, target=target
    )
    order = np.argsort(tile, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(tile))]
    # METIS may exceed the average part weight by ufactor/1000; allowing it
    # up to max_size lets parts follow the shape of the district.
    ufactor = int(max(1, round(1000 * (max_size / target - 1))))
    jobs: list[tuple] = []
    where: list[tuple[np.ndarray, int]] = []
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
            if k <= 1:
                labels[nodes[local]] = next_label
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
            where.append((nodes[local], next_label))
            next_label += k
    workers = workers or os.cpu_count() or 1
    if workers > 1 and graph.n >= PARALLEL_MIN_NODES and len(jobs) > 1:
        # fork, not spawn: a spawned worker re-imports the caller's main script.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_metis_job, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    else:
        results = [_metis_job(job) for job in jobs]
    for (nodes, first), part in zip(where, results, strict=True):
        labels[nodes] = first + part
    return compact_labels(labels)


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
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64)


def split_disconnected(graph: Graph, labels: np.ndarray) -> np.ndarray:
    """Give every connected piece of a part its own label (the largest keeps the old one).

    METIS only *tries* to keep parts contiguous; a part in two pieces would
    make a grid polygon in two pieces.
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


@dataclass
class RepairLog:
    """What a repair did, by part label (labels of new parts are new integers)."""

    split: dict[int, list[int]] = field(default_factory=dict)
    merged: dict[int, int] = field(default_factory=dict)
    rebalanced: list[tuple[int, ...]] = field(default_factory=list)
    unresolved: list[int] = field(default_factory=list)


def repair_sizes(
    graph: Graph,
    labels: np.ndarray,
    *,
    target: int,
    min_size: int,
    max_size: int,
    first_new_label: int | None = None,
    max_group: int = 4,
) -> tuple[np.ndarray, RepairLog]:
    """Bring every part within ``[min_size, max_size]`` by local moves.

    An out-of-bounds part is re-split on its own when it can be (an overfull
    part), else together with its most strongly tied neighbour, else with two,
    up to ``max_group`` parts: the group is re-divided into parts within
    bounds, each old label staying with the piece that keeps most of its
    shops. Only the parts named in the log change.
    """
    labels = labels.copy()
    log = RepairLog()
    sizes: dict[int, int] = {}
    members: dict[int, np.ndarray] = {}
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    for group in np.split(order, cuts):
        if group.size:
            lab = int(labels[group[0]])
            members[lab] = group
            sizes[lab] = int(graph.weights[group].sum())
    next_label = int(labels.max()) + 1 if labels.size else 0
    if first_new_label is not None:
        next_label = max(next_label, first_new_label)

    def bad(lab: int) -> bool:
        return lab in sizes and not (min_size <= sizes[lab] <= max_size)

    def try_group(group: list[int]) -> bool:
        nonlocal next_label
        nodes = np.concatenate([members[g] for g in group])
        total = sum(sizes[g] for g in group)
        k = feasible_parts(total, target, min_size, max_size)
        if not k or (len(group) == 1 and k == 1):
            return False
        pieces = split_nodes(graph, nodes, k, min_size=min_size, max_size=max_size)
        if pieces is None:
            return False
        old = {g: members[g] for g in group}
        owners = _assign_owners(pieces, old, graph.weights, labels)
        for piece, lab in zip(pieces, owners, strict=True):
            if lab is None:
                lab = next_label
                next_label += 1
                log.split.setdefault(group[0], []).append(lab)
            labels[piece] = lab
            members[lab] = piece
            sizes[lab] = int(graph.weights[piece].sum())
        for g in group:
            if g not in owners:
                # Its shops went mostly to the piece that holds most of them.
                del members[g], sizes[g]
                got, count = np.unique(labels[old[g]], return_counts=True)
                log.merged[g] = int(got[np.argmax(count)])
        kept = tuple(g for g in group if g in owners)
        if len(kept) > 1:
            log.rebalanced.append(kept)
        return True

    # A successful repair leaves only parts within bounds, so the queue never
    # grows but for one retry of a part that could not be repaired yet.
    queue = deque(sorted(lab for lab in sizes if bad(lab)))
    failed: set[int] = set()
    while queue:
        p = queue.popleft()
        if not bad(p):
            continue
        done = sizes[p] > max_size and try_group([p])
        group = [p]
        while not done and len(group) < max_group:
            neighbours = _neighbour_parts(
                graph, labels, np.concatenate([members[g] for g in group]), set(group)
            )
            if not neighbours:
                break
            for q in neighbours:
                if try_group([*group, q]):
                    done = True
                    break
            if not done:
                group.append(neighbours[0])
        if not done:
            if p in failed:
                log.unresolved.append(p)
                continue
            # Its neighbours may change meanwhile; one more try at the end.
            failed.add(p)
            queue.append(p)
    log.unresolved = sorted({p for p in log.unresolved if bad(p)})
    return labels, log


def _assign_owners(
    pieces: list[np.ndarray], old: dict[int, np.ndarray], weights: np.ndarray, labels: np.ndarray
) -> list[int | None]:
    """Old label per piece: the one whose shops it holds most of (None: a new part)."""
    scores = []
    for i, piece in enumerate(pieces):
        for lab, nodes in old.items():
            shared = int(weights[np.intersect1d(piece, nodes, assume_unique=True)].sum())
            if shared:
                scores.append((shared, -i, -lab, lab, i))
    scores.sort(reverse=True)
    owners: list[int | None] = [None] * len(pieces)
    taken: set[int] = set()
    for _, _, _, lab, i in scores:
        if owners[i] is None and lab not in taken:
            owners[i] = lab
            taken.add(lab)
    return owners


def _neighbour_parts(
    graph: Graph, labels: np.ndarray, nodes: np.ndarray, exclude: set[int]
) -> list[int]:
    """Parts adjacent to ``nodes``, most strongly tied first."""
    take = _ranges(graph.indptr[nodes], graph.indptr[nodes + 1] - graph.indptr[nodes])
    other = labels[graph.indices[take]]
    w = graph.edge_weights[take]
    keep = ~np.isin(other, list(exclude)) & (other >= 0)
    if not keep.any():
        return []
    uniq, inv = np.unique(other[keep], return_inverse=True)
    tie = np.bincount(inv.ravel(), weights=w[keep])
    order = np.lexsort((uniq, -tie))
    return [int(v) for v in uniq[order]]


def split_nodes(
    graph: Graph, nodes: np.ndarray, k: int, *, min_size: int, max_size: int
) -> list[np.ndarray] | None:
    """Split ``nodes`` into ``k`` connected, compact pieces within the size bounds."""
    if k == 1:
        total = int(graph.weights[nodes].sum())
        return [nodes] if min_size <= total <= max_size and _connected(graph, nodes) else None
    ka = k // 2
    halves = _bisect(graph, nodes, ka, k - ka, min_size=min_size, max_size=max_size)
    if halves is None:
        return None
    left = split_nodes(graph, halves[0], ka, min_size=min_size, max_size=max_size)
    right = split_nodes(graph, halves[1], k - ka, min_size=min_size, max_size=max_size)
    if left is None or right is None:
        return None
    return left + right


def _bisect(
    graph: Graph, nodes: np.ndarray, ka: int, kb: int, *, min_size: int, max_size: int
) -> tuple[np.ndarray, np.ndarray] | None:
    w = graph.weights[nodes]
    total = int(w.sum())
    lo = max(ka * min_size, total - kb * max_size)
    hi = min(ka * max_size, total - kb * min_size)
    if lo > hi:
        return None
    ideal = total * ka / (ka + kb)
    xy = graph.xy[nodes]
    centred = xy - xy.mean(axis=0)
    cov = centred.T @ centred
    _, vecs = np.linalg.eigh(cov)
    main = vecs[:, 1]
    angles = np.deg2rad([0, 90, 30, -30, 60, -60, 15, -15, 45, -45])
    base = np.arctan2(main[1], main[0])
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for a in angles:
        direction = np.array([np.cos(base + a), np.sin(base + a)])
        order = np.argsort(centred @ direction, kind="stable")
        cum = np.cumsum(w[order])
        valid = np.flatnonzero((cum >= lo) & (cum <= hi))
        if valid.size == 0:
            continue
        for i in valid[np.argsort(np.abs(cum[valid] - ideal), kind="stable")][:3]:
            a_nodes, b_nodes = nodes[order[: i + 1]], nodes[order[i + 1 :]]
            if not (_connected(graph, a_nodes) and _connected(graph, b_nodes)):
                continue
            score = _inertia(graph, a_nodes) + _inertia(graph, b_nodes)
            if best is None or score < best[0]:
                best = (score, a_nodes, b_nodes)
            break
    if best is None:
        return _grow(graph, nodes, lo, hi, ideal)
    return best[1], best[2]


def _grow(
    graph: Graph, nodes: np.ndarray, lo: int, hi: int, ideal: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Grow a region from an extreme node, nearest first, keeping both sides connected."""
    xy = graph.xy
    inside = set(nodes.tolist())
    proj = _principal_projection(xy[nodes])
    for start in (int(nodes[np.argmin(proj)]), int(nodes[np.argmax(proj)])):
        region = [start]
        in_region = {start}
        weight = int(graph.weights[start])
        while weight < ideal:
            frontier = {
                int(v)
                for u in region
                for v in graph.indices[graph.indptr[u] : graph.indptr[u + 1]]
                if int(v) in inside and int(v) not in in_region
            }
            if not frontier:
                break
            rest = inside - in_region
            candidates = sorted(frontier, key=lambda v: float(np.hypot(*(xy[v] - xy[start]))))
            added = False
            for v in candidates:
                if weight + graph.weights[v] > hi:
                    continue
                if _connected(graph, np.fromiter(rest - {v}, dtype=np.int64)):
                    region.append(v)
                    in_region.add(v)
                    weight += int(graph.weights[v])
                    added = True
                    break
            if not added:
                break
        if lo <= weight <= hi:
            a = np.array(sorted(in_region), dtype=np.int64)
            b = np.array(sorted(inside - in_region), dtype=np.int64)
            if _connected(graph, b):
                return a, b
    return None


def _inertia(graph: Graph, nodes: np.ndarray) -> float:
    xy = graph.xy[nodes]
    w = graph.weights[nodes]
    c = (xy * w[:, None]).sum(axis=0) / w.sum()
    return float((w * ((xy - c) ** 2).sum(axis=1)).sum())


def _connected(graph: Graph, nodes: np.ndarray) -> bool:
    if len(nodes) <= 1:
        return True
    inside = set(nodes.tolist())
    start = next(iter(inside))
    seen = {start}
    stack = [start]
    indptr, indices = graph.indptr, graph.indices
    while stack:
        u = stack.pop()
        for v in indices[indptr[u] : indptr[u + 1]].tolist():
            if v in inside and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(inside)
