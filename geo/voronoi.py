"""Grid polygons from Voronoi cells of shop locations.

Each distinct shop location owns its Voronoi cell; a grid's polygon is the
union of its locations' cells, clipped to the district. Because the cells tile
the plane, the grids cover the district without gap or overlap, and every shop
lies inside its own grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, cKDTree

from geo.tiling import TileMap, in_process

# Points on a ring far outside the data bound every real cell, so that each
# cell is a plain polygon of circumcentres; see voronoi_diagram.
FRAME_POINTS = 16
CHUNK_CELLS = 100_000


@dataclass(frozen=True)
class Diagram:
    """Voronoi cells of distinct points, kept as rings of vertex ids.

    Holding a million cells as GEOS polygons costs about a gigabyte; the rings
    cost a few dozen megabytes, and polygons are made a chunk at a time.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    >>> region = shapely.box(-5, -5, 15, 15)
    >>> diagram = voronoi_diagram(xy, region)
    >>> diagram.n, shapely.area(clip_to(diagram.cells(), region)).tolist()
    (4, [100.0, 100.0, 100.0, 100.0])
    """

    sites: np.ndarray
    vertices: np.ndarray
    ring_ptr: np.ndarray
    ring: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    ridge: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ring_ptr) - 1

    def cells(self, which: np.ndarray | None = None) -> np.ndarray:
        """Polygons of the cells ``which`` (default: all)."""
        which = np.arange(self.n) if which is None else np.asarray(which, dtype=np.int64)
        if which.size == 0:
            return np.empty(0, dtype=object)
        starts = self.ring_ptr[which]
        counts = self.ring_ptr[which + 1] - starts
        take = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(
            counts.sum()
        )
        rings = shapely.linearrings(
            self.vertices[self.ring[take]], indices=np.repeat(np.arange(len(which)), counts)
        )
        return shapely.polygons(rings)


def voronoi_diagram(xy: np.ndarray, region: shapely.Geometry, *, grid_size: float = 0.0) -> Diagram:
    """Voronoi cells of the distinct points ``xy``, covering ``region``.

    The cells come from one Delaunay triangulation of the points plus a ring of
    frame points at four times the radius of the data: every point of the
    region is nearer to a real point than to any frame point, so the real
    cells cover it, and each cell is the ring of circumcentres of its
    triangles. The frame also makes collinear points (one straight street)
    triangulable. Shared borders have identical vertices, so the cells form
    an exact coverage. With ``grid_size``, vertices are snapped to that grid
    and borders shorter than it count as a point.

    Examples
    --------
    Four shops on a square: each cell borders two others, never the opposite corner.

    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    >>> region = shapely.box(-5, -5, 15, 15)
    >>> diagram = voronoi_diagram(xy, region)
    >>> diagram.indptr.tolist(), diagram.indices.tolist()
    ([0, 2, 4, 6, 8], [1, 2, 0, 3, 0, 3, 1, 2])
    """
    n = len(xy)
    centre, frame = _frame(xy, region)
    # Circumcentres in coordinates relative to the centre: the big false
    # eastings of a projected CRS would eat the digits that tell co-circular
    # triangles apart.
    tri = Delaunay(np.vstack([xy - centre, frame - centre]))
    simplices = tri.simplices.astype(np.int64)
    centres = _circumcentres(tri.points, simplices)
    vertex_id = _merge_coincident(centres, tri.neighbors, tol=max(grid_size, 1e-6))
    ring_ptr, ring = _cell_rings(tri.points, simplices, vertex_id, n)
    indptr, indices, ridge = _ridges(simplices, tri.neighbors, centres, vertex_id, n)
    return Diagram(
        sites=xy,
        vertices=_snap(centres + centre, grid_size),
        ring_ptr=ring_ptr,
        ring=ring,
        indptr=indptr,
        indices=indices,
        ridge=ridge,
    )


def _frame(xy: np.ndarray, region: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Centre of the data and region, and the frame points on a ring four radii out."""
    xmin, ymin, xmax, ymax = shapely.bounds(region)
    lo = np.minimum(xy.min(axis=0), [xmin, ymin])
    hi = np.maximum(xy.max(axis=0), [xmax, ymax])
    centre = (lo + hi) / 2
    radius = float(np.hypot(*(hi - lo))) / 2 + 1.0
    angle = np.linspace(0, 2 * np.pi, FRAME_POINTS, endpoint=False)
    return centre, centre + 4 * radius * np.c_[np.cos(angle), np.sin(angle)]


def _circumcentres(pts: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    a, b, c = pts[simplices[:, 0]], pts[simplices[:, 1]], pts[simplices[:, 2]]
    ba, ca = b - a, c - a
    d = 2 * (ba[:, 0] * ca[:, 1] - ba[:, 1] * ca[:, 0])
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    nb, nc = (ba**2).sum(1), (ca**2).sum(1)
    return a + np.c_[ca[:, 1] * nb - ba[:, 1] * nc, ba[:, 0] * nc - ca[:, 0] * nb] / d[:, None]


def _cell_rings(
    pts: np.ndarray, simplices: np.ndarray, vertex_id: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each real point's cell as the ring of its triangles' circumcentres (CSR)."""
    vertex = simplices.ravel()
    triangle = np.repeat(np.arange(len(simplices)), 3)
    real = vertex < n
    vertex, triangle = vertex[real], triangle[real]
    # The triangles around a point form a fan; their centroids (unlike their
    # circumcentres, which coincide for co-circular points) give its order.
    centroid = pts[simplices].mean(axis=1)
    around = np.arctan2(
        centroid[triangle, 1] - pts[vertex, 1], centroid[triangle, 0] - pts[vertex, 0]
    )
    del centroid
    # np.lexsort((around, vertex)) in two stable passes: the same order, a fifth faster.
    by_angle = np.argsort(around, kind="stable")
    order = by_angle[np.argsort(vertex[by_angle], kind="stable")]
    ring = vertex_id[triangle[order]]
    ring_ptr = np.r_[0, np.cumsum(np.bincount(vertex, minlength=n))].astype(np.int64)
    return ring_ptr, ring


def _ridges(
    simplices: np.ndarray, neighbors: np.ndarray, centres: np.ndarray, vertex_id: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours of the real points (CSR) and the length of the border they share.

    Neighbours are Delaunay edges between real points; each ridge joins the
    circumcentres of the two triangles on either side of its edge.
    """
    t = np.repeat(np.arange(len(simplices)), 3)
    k = np.tile(np.arange(3), len(simplices))
    u, v = simplices[t, (k + 1) % 3], simplices[t, (k + 2) % 3]
    across = neighbors.astype(np.int64)[t, k]
    keep = (np.maximum(u, v) < n) & ((u < v) | (across < 0))
    u, v, t, across = u[keep], v[keep], t[keep], across[keep]
    length = np.hypot(*(centres[t] - centres[across]).T)
    # Co-circular points (a regular row of shops) make Delaunay edges whose
    # cells touch at a point only: not neighbours for a grid.
    real_border = vertex_id[t] != vertex_id[across]
    u, v, length = u[real_border], v[real_border], length[real_border]
    src, dst = np.r_[u, v], np.r_[v, u]
    ridge = np.r_[length, length]
    order = _by_vertex_then(src, dst)
    indptr = np.r_[0, np.cumsum(np.bincount(src, minlength=n))].astype(np.int64)
    return indptr, dst[order], ridge[order]


def _by_vertex_then(vertex: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``np.lexsort((other, vertex))`` for distinct pairs of point ids, as one integer key.

    One int64 key sorts two to three times faster than lexsort on millions of entries.

    Examples
    --------
    >>> _by_vertex_then(np.array([2, 0, 2, 1]), np.array([0, 5, 1, 3])).tolist()
    [1, 3, 0, 2]
    """
    key = vertex.astype(np.int64) * (int(other.max(initial=0)) + 1) + other
    return np.argsort(key, kind="stable")


def _snap(xy: np.ndarray, grid_size: float) -> np.ndarray:
    return np.round(xy / grid_size) * grid_size if grid_size else xy


def _merge_coincident(
    centres: np.ndarray, neighbors: np.ndarray, *, tol: float = 1e-6
) -> np.ndarray:
    """One vertex id per circumcentre, shared by adjacent triangles closer than ``tol``."""
    t = np.repeat(np.arange(len(centres)), 3)
    across = neighbors.ravel().astype(np.int64)
    pair = across > t
    t, across = t[pair], across[pair]
    close = np.hypot(*(centres[t] - centres[across]).T) < tol
    ids = np.arange(len(centres))
    if not close.any():
        return ids
    m = len(centres)
    graph = coo_matrix((np.ones(int(close.sum())), (t[close], across[close])), shape=(m, m))
    n_comp, comp = connected_components(graph, directed=False)
    first = np.full(n_comp, m, dtype=np.int64)
    np.minimum.at(first, comp, ids)
    return first[comp]


def dissolve_cells(
    diagram: Diagram, labels: np.ndarray, n_labels: int, *, map_tiles: TileMap | None = None
) -> np.ndarray:
    """Union of the cells of each label (labels 0..n_labels-1).

    Whole labels at a time, about ``CHUNK_CELLS`` cells per :class:`CellChunk`,
    each dissolved by :func:`dissolve_chunk` through ``map_tiles`` (see
    :mod:`geo.tiling`).

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    >>> region = shapely.box(-5, -5, 15, 15)
    >>> diagram = voronoi_diagram(xy, region)
    >>> halves = dissolve_cells(diagram, np.array([0, 0, 1, 1]), 2)
    >>> shapely.area(clip_to(halves, region)).tolist()
    [200.0, 200.0]
    """
    order = np.argsort(labels, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(labels, minlength=n_labels))]
    chunks = []
    lab = 0
    while lab < n_labels:
        stop = int(np.searchsorted(bounds, bounds[lab] + CHUNK_CELLS, side="right")) - 1
        stop = min(max(stop, lab + 1), n_labels)
        chunks.append(_cell_chunk(diagram, order[bounds[lab] : bounds[stop]], bounds[lab : stop + 1]))
        lab = stop
    out = np.empty(n_labels, dtype=object)
    pieces = (map_tiles or in_process)(dissolve_chunk, chunks)
    if pieces:
        out[:] = np.concatenate(pieces)
    return out


@dataclass(frozen=True)
class CellChunk:
    """The cells of a run of labels, as rings of their own vertices: all a worker needs.

    ``bounds[i]:bounds[i + 1]`` (counted from ``bounds[0]``) are the cells of
    the chunk's ``i``-th label.
    """

    vertices: np.ndarray
    ring_ptr: np.ndarray
    ring: np.ndarray
    bounds: np.ndarray


def _cell_chunk(diagram: Diagram, cells: np.ndarray, bounds: np.ndarray) -> CellChunk:
    starts = diagram.ring_ptr[cells]
    counts = diagram.ring_ptr[cells + 1] - starts
    take = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    used, ring = np.unique(diagram.ring[take], return_inverse=True)
    return CellChunk(
        vertices=diagram.vertices[used],
        ring_ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
        ring=ring.ravel().astype(np.int64),
        bounds=np.asarray(bounds, dtype=np.int64) - bounds[0],
    )


def dissolve_chunk(chunk: CellChunk) -> np.ndarray:
    """The union of each label's cells in one :class:`CellChunk` (None for a label without any).

    Examples
    --------
    >>> square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> chunk = CellChunk(square, np.array([0, 4, 8]), np.array([0, 1, 2, 3, 1, 4, 5, 2]),
    ...                   np.array([0, 2]))
    >>> shapely.area(dissolve_chunk(chunk)).tolist()
    [2.0]
    """
    n_cells = len(chunk.ring_ptr) - 1
    counts = np.diff(chunk.ring_ptr)
    rings = shapely.linearrings(
        chunk.vertices[chunk.ring], indices=np.repeat(np.arange(n_cells), counts)
    )
    cells = shapely.polygons(rings)
    out = np.empty(len(chunk.bounds) - 1, dtype=object)
    for i in range(len(out)):
        group = cells[chunk.bounds[i] : chunk.bounds[i + 1]]
        if group.size == 1:
            out[i] = group[0]
        elif group.size:
            out[i] = shapely.coverage_union_all(group)
    return out


def _cells_inside(diagram: Diagram, region: shapely.Geometry) -> np.ndarray:
    """Which cells lie wholly inside ``region``, without making a million polygons.

    A convex cell whose vertices are all inside can still be notched by the
    region's boundary, but then a vertex of that boundary lies in the cell,
    i.e. nearer to the cell's point than to any other point.
    """
    shapely.prepare(region)
    vertex_out = ~shapely.contains_xy(region, diagram.vertices[:, 0], diagram.vertices[:, 1])
    starts = diagram.ring_ptr[:-1]
    counts = np.diff(diagram.ring_ptr)
    out = np.zeros(diagram.n, dtype=bool)
    has = counts > 0
    out[has] = np.logical_or.reduceat(vertex_out[diagram.ring], starts[has])
    boundary = shapely.get_coordinates(shapely.boundary(region))
    if len(boundary):
        sites = diagram.sites
        _, nearest = cKDTree(sites).query(boundary)
        out[np.unique(nearest)] = True
    return ~out & has


def cells_touch_within(
    diagram: Diagram, region: shapely.Geometry, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Whether the cells of each pair ``(src, dst)`` still share a border inside ``region``.

    Delaunay neighbours always share a Voronoi ridge, but the ridge may lie
    outside the district (across a river, beyond a concave edge); such pairs
    must not be joined in one grid, or its polygon falls apart. Only cells
    that the region cuts need a test; of a cell cut in pieces, only the piece
    holding its point counts.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    >>> region = shapely.box(-5, -5, 15, 15)
    >>> diagram = voronoi_diagram(xy, region)
    >>> cells_touch_within(diagram, region, np.array([0, 0]), np.array([1, 3])).tolist()
    [True, False]
    """
    inside = _cells_inside(diagram, region)
    keep = np.ones(len(src), dtype=bool)
    check = np.flatnonzero(~(inside[src] & inside[dst]))
    if check.size == 0:
        return keep
    cut = np.unique(np.r_[src[check], dst[check]])
    clipped = np.empty(diagram.n, dtype=object)
    clipped[cut] = shapely.intersection(diagram.cells(cut), region)
    # A cell the region cuts in pieces counts by the piece holding its point:
    # the other pieces go to whichever grid surrounds them, so touching them
    # joins nothing.
    for i in cut[shapely.get_num_geometries(clipped[cut]) > 1]:
        site = shapely.points(diagram.sites[i])
        pieces = shapely.get_parts(clipped[i])
        holding = pieces[shapely.covers(pieces, site)]
        clipped[i] = holding[0] if len(holding) else pieces[np.argmax(shapely.area(pieces))]
    shared = shapely.intersection(clipped[src[check]], clipped[dst[check]])
    keep[check] = shapely.length(shared) > 1e-6
    return keep


def clip_to(polygons: np.ndarray, region: shapely.Geometry) -> np.ndarray:
    """Clip polygons to ``region``, skipping the (many) that lie inside it.

    Examples
    --------
    >>> polygons = np.array([shapely.box(0, 0, 1, 1), shapely.box(0, 0, 4, 4)])
    >>> shapely.area(clip_to(polygons, shapely.box(0, 0, 2, 2))).tolist()
    [1.0, 4.0]
    """
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

    Examples
    --------
    The stray right-hand square of the first grid goes to its neighbour:

    >>> polygons = np.array([shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)]),
    ...                      shapely.box(1, 0, 2, 1), shapely.box(3, 0, 4, 1)])
    >>> anchors = [np.array([[0.5, 0.5]]), np.array([[1.5, 0.5]]), np.array([[3.5, 0.5]])]
    >>> shapely.area(absorb_fragments(polygons, anchors)).tolist()
    [1.0, 2.0, 1.0]
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


def group_points(xy: np.ndarray, labels: np.ndarray, n_labels: int) -> list[np.ndarray]:
    """The points of each label 0..n_labels-1, as :func:`absorb_fragments` takes its anchors.

    Examples
    --------
    >>> [p.tolist() for p in group_points(np.array([[0, 0], [1, 1], [2, 2]]), np.array([1, 0, 1]), 3)]
    [[[1, 1]], [[0, 0], [2, 2]], []]
    """
    order = np.argsort(labels, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(labels, minlength=n_labels))]
    return [xy[order[bounds[i] : bounds[i + 1]]] for i in range(n_labels)]


def _single(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop slivers of zero area that a union can leave behind."""
    if shapely.get_type_id(geom) in (6, 7):
        parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3 and p.area > 0]
        if len(parts) == 1:
            return parts[0]
        return shapely.multipolygons(parts) if parts else geom
    return geom
