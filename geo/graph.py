"""Undirected weighted graphs of shop locations, in CSR form.

The nodes are distinct shop locations (weight = shops at that location), the
edges come from their Delaunay triangulation, so two nodes are adjacent exactly
when their Voronoi cells touch. Everything here is plain numpy/scipy on the
CSR arrays: induced subgraphs, contraction of groups, edge filtering,
connected components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError


@dataclass
class Graph:
    """Undirected graph in CSR form; both directions of every edge are stored.

    Examples
    --------
    A path of three locations, 0 - 1 - 2:

    >>> g = Graph(np.zeros((3, 2)), np.ones(3), np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]),
    ...           np.array([5, 5, 7, 7]))
    >>> g.n, g.sources().tolist()
    (3, [0, 1, 1, 2])
    """

    xy: np.ndarray
    weights: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    edge_weights: np.ndarray
    # Edges that cross a main road: cut first, kept only where a district
    # would otherwise be left with pieces too small for a grid.
    barrier: np.ndarray | None = None

    @classmethod
    def from_points(cls, xy: np.ndarray) -> Graph:
        """The Delaunay graph of distinct points, one shop each, every edge weighing 1.

        Examples
        --------
        >>> Graph.from_points(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])).indices.tolist()
        [1, 0, 2, 1]
        """
        indptr, indices = delaunay_adjacency(xy)
        ones = np.ones(len(indices), dtype=np.int64)
        return cls(xy, np.ones(len(xy), dtype=np.int64), indptr, indices, ones)

    @property
    def n(self) -> int:
        return len(self.xy)

    def sources(self) -> np.ndarray:
        return np.repeat(np.arange(self.n), np.diff(self.indptr))


def delaunay_adjacency(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR adjacency of the Delaunay triangulation of distinct points ``xy``.

    Collinear inputs (one straight street) have no triangulation; their
    neighbours are then the previous and next point along the line.

    Examples
    --------
    >>> indptr, indices = delaunay_adjacency(np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0]]))
    >>> indptr.tolist(), indices.tolist()
    ([0, 1, 2, 4], [2, 2, 0, 1])
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
    order = np.argsort(principal_projection(xy), kind="stable")
    src = np.r_[order[:-1], order[1:]]
    dst = np.r_[order[1:], order[:-1]]
    return _csr_from_edges(n, src, dst)


def _collinear(xy: np.ndarray) -> bool:
    centred = xy - xy.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(s[-1] <= 1e-9 * max(s[0], 1e-12) or s[-1] < 1e-6)


def principal_projection(xy: np.ndarray) -> np.ndarray:
    """Position of each point along the main axis of the points, from their centre (either sign).

    Examples
    --------
    >>> np.abs(principal_projection(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))).round(3).tolist()
    [1.414, 0.0, 1.414]
    """
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

    Examples
    --------
    >>> ridge_weights(np.array([0.5, 1.0, 30.0])).tolist()
    [50, 100, 1000]
    """
    if ridge.size == 0:
        return np.zeros(0, dtype=np.int64)
    ref = float(np.median(ridge)) or 1.0
    return np.clip(np.round(100.0 * ridge / ref), 1, 1000).astype(np.int64)


def subgraph(graph: Graph, nodes: np.ndarray) -> tuple[Graph, np.ndarray]:
    """The graph induced by ``nodes`` (sorted) and the map old id -> new id.

    Examples
    --------
    >>> g = Graph(np.zeros((3, 2)), np.ones(3), np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]),
    ...           np.array([5, 5, 7, 7]))
    >>> sub, new_id = subgraph(g, np.array([1, 2]))
    >>> sub.indices.tolist(), sub.edge_weights.tolist(), new_id.tolist()
    ([1, 0], [7, 7], [-1, 0, 1])
    """
    new_id = np.full(graph.n, -1, dtype=np.int64)
    new_id[nodes] = np.arange(len(nodes))
    starts, ends = graph.indptr[nodes], graph.indptr[nodes + 1]
    counts = ends - starts
    take = ranges(starts, counts)
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
    """The graph with only the directed edges marked in ``keep`` (kept symmetric by the caller).

    Examples
    --------
    >>> g = Graph(np.zeros((3, 2)), np.ones(3), np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]),
    ...           np.array([5, 5, 7, 7]))
    >>> keep_edges(g, np.array([True, True, False, False])).indptr.tolist()
    [0, 1, 2, 2]
    """
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


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``range(s, s + c)`` for every start and count.

    Examples
    --------
    >>> ranges(np.array([0, 5]), np.array([2, 3])).tolist()
    [0, 1, 5, 6, 7]
    """
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts)
    return np.arange(total) + offsets


def components(graph: Graph) -> tuple[int, np.ndarray]:
    """Number of connected components and the component of every node.

    Examples
    --------
    >>> g = Graph(np.zeros((3, 2)), np.ones(3), np.array([0, 1, 2, 2]), np.array([1, 0]),
    ...           np.array([5, 5]))
    >>> n, comp = components(g)
    >>> n, comp.tolist()
    (2, [0, 0, 1])
    """
    m = csr_matrix(
        (np.ones(len(graph.indices), dtype=np.int8), graph.indices, graph.indptr),
        shape=(graph.n, graph.n),
    )
    return connected_components(m, directed=False)


def is_connected(graph: Graph, nodes: np.ndarray) -> bool:
    """Whether ``nodes`` form one connected piece of ``graph`` (by its edges among them).

    Examples
    --------
    >>> g = Graph(np.zeros((3, 2)), np.ones(3), np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]),
    ...           np.array([5, 5, 7, 7]))
    >>> is_connected(g, np.array([0, 1])), is_connected(g, np.array([0, 2]))
    (True, False)
    """
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
