"""Size repair: bring every part of a partition within ``[min_size, max_size]``.

Local moves only: an out-of-bounds part is re-split alone or together with
its most strongly tied neighbours, and only the parts involved change.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from geo.graph import Graph, is_connected, principal_projection, ranges
from geo.partition import feasible_parts, split_disconnected


@dataclass
class RepairLog:
    """What a repair did, by part label (labels of new parts are new integers).

    Examples
    --------
    >>> RepairLog(merged={3: 1})
    RepairLog(split={}, merged={3: 1}, rebalanced=[], unresolved=[])
    """

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

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])  # 20 shops in a row
    >>> labels, log = repair_sizes(street, np.r_[np.zeros(5, int), np.ones(15, int)],
    ...                            target=10, min_size=8, max_size=12)
    >>> np.bincount(labels).tolist(), log.rebalanced
    ([10, 10], [(0, 1)])
    """
    state = _Repair(
        graph, labels, target=target, min_size=min_size, max_size=max_size,
        first_new_label=first_new_label,
    )
    # A successful repair leaves only parts within bounds, so the queue never
    # grows but for one retry of a part that could not be repaired yet.
    queue = deque(sorted(lab for lab in state.sizes if state.bad(lab)))
    failed: set[int] = set()
    while queue:
        p = queue.popleft()
        if not state.bad(p) or state.repair(p, max_group=max_group):
            continue
        if p in failed:
            state.log.unresolved.append(p)
            continue
        # Its neighbours may change meanwhile; one more try at the end.
        failed.add(p)
        queue.append(p)
    state.log.unresolved = sorted({p for p in state.log.unresolved if state.bad(p)})
    return state.labels, state.log


def repair_seams(
    graph: Graph, labels: np.ndarray, *, target: int, min_size: int, max_size: int
) -> np.ndarray:
    """The whole graph's repair after its tiles were partitioned apart.

    Tiles know nothing of each other: a part may end in pieces, or out of
    bounds where a tile's edge cut its shops short. Every piece becomes a part
    of its own (:func:`~geo.partition.split_disconnected`), then every part
    out of bounds is re-split with its neighbours, across the seams too
    (:func:`repair_sizes`). Runs once, in the caller's process.

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])  # 20 shops in a row
    >>> tiles_apart = np.r_[np.zeros(5, int), np.ones(10, int), np.zeros(5, int)]
    >>> np.bincount(repair_seams(street, tiles_apart, target=10, min_size=8, max_size=12)).tolist()
    [10, 10]
    """
    labels = split_disconnected(graph, labels)
    labels, _ = repair_sizes(graph, labels, target=target, min_size=min_size, max_size=max_size)
    return labels


class _Repair:
    """A labelling under repair: the members and size of every part, and the log."""

    def __init__(
        self,
        graph: Graph,
        labels: np.ndarray,
        *,
        target: int,
        min_size: int,
        max_size: int,
        first_new_label: int | None,
    ) -> None:
        self.graph = graph
        self.labels = labels.copy()
        self.target, self.min_size, self.max_size = target, min_size, max_size
        self.log = RepairLog()
        self.sizes: dict[int, int] = {}
        self.members: dict[int, np.ndarray] = {}
        order = np.argsort(self.labels, kind="stable")
        cuts = np.flatnonzero(np.diff(self.labels[order])) + 1
        for group in np.split(order, cuts):
            if group.size:
                lab = int(self.labels[group[0]])
                self.members[lab] = group
                self.sizes[lab] = int(graph.weights[group].sum())
        self.next_label = int(self.labels.max()) + 1 if self.labels.size else 0
        if first_new_label is not None:
            self.next_label = max(self.next_label, first_new_label)

    def bad(self, lab: int) -> bool:
        return lab in self.sizes and not (self.min_size <= self.sizes[lab] <= self.max_size)

    def repair(self, p: int, *, max_group: int) -> bool:
        """Re-divide part ``p`` alone, else with ever more of its neighbours."""
        done = self.sizes[p] > self.max_size and self.try_group([p])
        group = [p]
        while not done and len(group) < max_group:
            nodes = np.concatenate([self.members[g] for g in group])
            neighbours = _neighbour_parts(self.graph, self.labels, nodes, set(group))
            if not neighbours:
                break
            done = any(self.try_group([*group, q]) for q in neighbours)
            if not done:
                group.append(neighbours[0])
        return done

    def try_group(self, group: list[int]) -> bool:
        """Re-divide the parts of ``group`` into parts within bounds, if they can be."""
        nodes = np.concatenate([self.members[g] for g in group])
        total = sum(self.sizes[g] for g in group)
        k = feasible_parts(total, self.target, self.min_size, self.max_size)
        if not k or (len(group) == 1 and k == 1):
            return False
        pieces = split_nodes(self.graph, nodes, k, min_size=self.min_size, max_size=self.max_size)
        if pieces is None:
            return False
        self._apply(group, pieces)
        return True

    def _apply(self, group: list[int], pieces: list[np.ndarray]) -> None:
        weights = self.graph.weights
        old = {g: self.members[g] for g in group}
        owners = _assign_owners(pieces, old, weights, self.labels)
        for piece, lab in zip(pieces, owners, strict=True):
            if lab is None:
                lab = self.next_label
                self.next_label += 1
                self.log.split.setdefault(group[0], []).append(lab)
            self.labels[piece] = lab
            self.members[lab] = piece
            self.sizes[lab] = int(weights[piece].sum())
        for g in group:
            if g not in owners:
                # Its shops went mostly to the piece that holds most of them.
                del self.members[g], self.sizes[g]
                got, count = np.unique(self.labels[old[g]], return_counts=True)
                self.log.merged[g] = int(got[np.argmax(count)])
        kept = tuple(g for g in group if g in owners)
        if len(kept) > 1:
            self.log.rebalanced.append(kept)


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
    take = ranges(graph.indptr[nodes], graph.indptr[nodes + 1] - graph.indptr[nodes])
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
    """Split ``nodes`` into ``k`` connected, compact pieces within the size bounds.

    Examples
    --------
    >>> from geo.graph import Graph
    >>> street = Graph.from_points(np.c_[np.arange(20.0), np.zeros(20)])  # 20 shops in a row
    >>> [p.tolist()[:3] for p in split_nodes(street, np.arange(20), 2, min_size=8, max_size=12)]
    [[0, 1, 2], [10, 11, 12]]
    """
    if k == 1:
        total = int(graph.weights[nodes].sum())
        return [nodes] if min_size <= total <= max_size and is_connected(graph, nodes) else None
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
            if not (is_connected(graph, a_nodes) and is_connected(graph, b_nodes)):
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
    proj = principal_projection(xy[nodes])
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
                if is_connected(graph, np.fromiter(rest - {v}, dtype=np.int64)):
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
            if is_connected(graph, b):
                return a, b
    return None


def _inertia(graph: Graph, nodes: np.ndarray) -> float:
    xy = graph.xy[nodes]
    w = graph.weights[nodes]
    c = (xy * w[:, None]).sum(axis=0) / w.sum()
    return float((w * ((xy - c) ** 2).sum(axis=1)).sum())

