"""Grid polygons from Voronoi cells of shop locations.

Each distinct shop location owns its Voronoi cell; a grid's polygon is the
union of its locations' cells, clipped to the district. Because the cells tile
the plane, the grids cover the district without gap or overlap, and every shop
lies inside its own grid.
"""

from __future__ import annotations

import numpy as np
import shapely


def voronoi_cells(xy: np.ndarray, region: shapely.Geometry) -> np.ndarray:
    """One Voronoi cell per point of ``xy`` (same order), covering ``region``."""
    if len(xy) == 1:
        return np.array([shapely.envelope(region)], dtype=object)
    envelope = shapely.envelope(shapely.union(region, shapely.multipoints(xy)))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=envelope, ordered=True)
    )
    if len(cells) != len(xy):
        raise RuntimeError(f"Voronoi diagram has {len(cells)} cells for {len(xy)} locations")
    return cells


def dissolve_cells(cells: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Union of the cells of each label (labels 0..n_labels-1)."""
    out = np.empty(n_labels, dtype=object)
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    for group in np.split(order, cuts):
        if group.size == 0:
            continue
        lab = int(labels[group[0]])
        out[lab] = cells[group[0]] if group.size == 1 else shapely.coverage_union_all(cells[group])
    return out


def clip_to(polygons: np.ndarray, region: shapely.Geometry) -> np.ndarray:
    """Clip polygons to ``region``, skipping the (many) that lie inside it."""
    shapely.prepare(region)
    out = polygons.copy()
    present = ~shapely.is_missing(out)
    inside = np.zeros(len(out), dtype=bool)
    inside[present] = shapely.contains_properly(region, out[present])
    todo = present & ~inside
    if todo.any():
        out[todo] = shapely.intersection(out[todo], region)
    return out


def absorb_fragments(
    polygons: np.ndarray, anchors: list[np.ndarray], *, movable: np.ndarray | None = None
) -> np.ndarray:
    """Make polygons single-part by giving stray parts to a neighbour.

    ``anchors[i]`` holds the points (shop locations) of polygon ``i``; the part
    holding most of them stays, every other part goes to the neighbouring
    polygon that shares the longest border with it. ``movable`` limits which
    polygons may receive parts (default: all).
    """
    polygons = polygons.copy()
    movable = np.ones(len(polygons), dtype=bool) if movable is None else movable
    for _ in range(3):
        n_parts = shapely.get_num_geometries(polygons)
        multi = np.flatnonzero(n_parts > 1)
        if multi.size == 0:
            break
        tree = shapely.STRtree(polygons)
        for i in multi:
            parts = shapely.get_parts(polygons[i])
            pts = shapely.points(anchors[i]) if len(anchors[i]) else np.empty(0, dtype=object)
            held = np.array([int(shapely.covers(p, pts).sum()) for p in parts])
            order = np.lexsort((-shapely.area(parts), -held))
            home = parts[order[0]]
            strays = []
            for j in order[1:]:
                part = parts[j]
                best, best_len = None, 0.0
                for k in tree.query(part, predicate="intersects"):
                    if k == i or not movable[k]:
                        continue
                    shared = shapely.length(
                        shapely.intersection(part.boundary, polygons[k].boundary)
                    )
                    if shared > best_len + 1e-9:
                        best, best_len = k, shared
                if best is None or held[j] > 0:
                    strays.append(part)
                    continue
                polygons[best] = _single(shapely.union(polygons[best], part))
            polygons[i] = _single(shapely.union_all([home, *strays])) if strays else home
    return polygons


def _single(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop slivers of zero area that a union can leave behind."""
    if shapely.get_type_id(geom) in (6, 7):
        parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3 and p.area > 0]
        if len(parts) == 1:
            return parts[0]
        return shapely.multipolygons(parts) if parts else geom
    return geom


def cells_touch_within(
    cells: np.ndarray, region: shapely.Geometry, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Whether the cells of each pair ``(src, dst)`` still share a border inside ``region``.

    Delaunay neighbours always share a Voronoi ridge, but the ridge may lie
    outside the district (across a river, beyond a concave edge); such pairs
    must not be joined in one grid, or its polygon falls apart. Only cells
    that the region cuts need a test.
    """
    shapely.prepare(region)
    inside = shapely.contains_properly(region, cells)
    keep = np.ones(len(src), dtype=bool)
    check = np.flatnonzero(~(inside[src] & inside[dst]))
    if check.size == 0:
        return keep
    cut = np.flatnonzero(~inside)
    clipped = cells.copy()
    clipped[cut] = shapely.intersection(cells[cut], region)
    shared = shapely.intersection(clipped[src[check]], clipped[dst[check]])
    keep[check] = shapely.length(shared) > 1e-6
    return keep


def voronoi_adjacency(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which cells share a border, and its length, from the cells' own edges.

    Two cells of one Voronoi diagram share a ridge with bit-identical end
    points (both come from the same circumcentres), so matching edges gives
    the Delaunay adjacency and the ridge lengths without triangulating again.
    Returns CSR ``indptr``, ``indices`` and the ridge length of every entry.
    """
    n = len(cells)
    coords, owner = shapely.get_coordinates(cells, return_index=True)
    same = owner[1:] == owner[:-1]
    a, b, owner = coords[:-1][same], coords[1:][same], owner[:-1][same]
    keep = (a != b).any(axis=1)
    a, b, owner = a[keep], b[keep], owner[keep]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    p = np.where(swap[:, None], b, a)
    q = np.where(swap[:, None], a, b)
    order = np.lexsort((q[:, 1], q[:, 0], p[:, 1], p[:, 0]))
    p, q, owner = p[order], q[order], owner[order]
    shared = np.flatnonzero((p[1:] == p[:-1]).all(axis=1) & (q[1:] == q[:-1]).all(axis=1))
    u, v = owner[shared], owner[shared + 1]
    length = np.hypot(*(q[shared] - p[shared]).T)
    lo, hi = np.minimum(u, v).astype(np.int64), np.maximum(u, v).astype(np.int64)
    pair, inverse = np.unique(lo * n + hi, return_inverse=True)
    length = np.bincount(inverse.ravel(), weights=length)
    lo, hi = pair // n, pair % n
    src, dst = np.r_[lo, hi], np.r_[hi, lo]
    ridge = np.r_[length, length]
    order = np.lexsort((dst, src))
    indptr = np.r_[0, np.cumsum(np.bincount(src, minlength=n))].astype(np.int64)
    return indptr, dst[order].astype(np.int64), ridge[order]
