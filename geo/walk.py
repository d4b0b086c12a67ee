"""A walking route through a day's stops, along the streets when there are any.

The stops (due checks and open cases) are visited in an order found by
nearest neighbour from the first stop and improved by 2-opt and or-opt moves
on the walking distances (a leader's day has tens of stops, not thousands); the route is open (it ends at its last stop).  With streets, the
distance between two stops is the shortest way along them (the streets are
noded at their crossings and cut every ``spacing_m`` metres; a stop joins
the network at its nearest vertex in a straight line); two stops the streets
do not connect are joined in a straight line.  Without streets every leg is
straight.  All measuring is done in a metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.metric import metric_crs


@dataclass(frozen=True)
class WalkRoute:
    """A route: ``order`` (positions in the stops given, in walking order), ``path`` (one line in the
    stops' CRS), ``legs_m`` (metres of each leg), ``length_m`` and whether streets were followed."""

    order: np.ndarray
    path: shapely.LineString | None
    legs_m: np.ndarray
    length_m: float
    along_streets: bool


@dataclass(frozen=True)
class _Network:
    xy: np.ndarray  # vertices, metric
    matrix: object  # scipy sparse, lengths in metres


def street_network(streets: gpd.GeoDataFrame | gpd.GeoSeries, *, crs, spacing_m: float = 10.0) -> _Network | None:
    """The streets as a graph of vertices (at most ``spacing_m`` apart) in ``crs``; None if there are no lines."""
    geometry = streets.geometry if isinstance(streets, gpd.GeoDataFrame) else streets
    lines = geometry[geometry.geom_type.isin(["LineString", "MultiLineString"])].to_crs(crs)
    if lines.empty:
        return None
    noded = shapely.segmentize(shapely.union_all(lines.to_numpy()), spacing_m)
    parts = shapely.get_parts(noded)
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return None
    # Vertices at one place (a crossing, the shared end of two lines) are one node.
    nodes, node_of = np.unique(np.round(coords, 2), axis=0, return_inverse=True)
    same_line = index[1:] == index[:-1]
    src, dst = node_of[:-1][same_line], node_of[1:][same_line]
    length = np.hypot(*(nodes[src] - nodes[dst]).T)
    n = len(nodes)
    matrix = coo_matrix((np.r_[length, length], (np.r_[src, dst], np.r_[dst, src])), shape=(n, n)).tocsr()
    return _Network(nodes, matrix)


@dataclass(frozen=True)
class _Ways:
    distances: np.ndarray  # walking metres between every pair of stops
    streets: np.ndarray | None  # per pair: True when the way follows the streets
    previous: np.ndarray | None  # Dijkstra predecessors, one row per stop
    vertex: np.ndarray | None  # each stop's nearest street vertex


def _ways(xy: np.ndarray, network: _Network | None) -> _Ways:
    straight = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    if network is None:
        return _Ways(straight, None, None, None)
    access, vertex = cKDTree(network.xy).query(xy)
    along, previous = dijkstra(network.matrix, directed=False, indices=vertex, return_predecessors=True)
    graph = along[:, vertex]  # stop i's vertex to stop j's vertex
    streets = np.isfinite(graph) & ~np.eye(len(xy), dtype=bool)
    distances = np.where(streets, access[:, None] + np.where(streets, graph, 0.0) + access[None, :], straight)
    return _Ways(distances, streets, previous, vertex)


def _way(previous: np.ndarray, row: int, target: int) -> list[int]:
    way = [target]
    while previous[row, way[-1]] >= 0:
        way.append(previous[row, way[-1]])
    return way[::-1]


def _edge(distances: np.ndarray, a, b) -> float:
    return 0.0 if a is None or b is None else float(distances[a, b])


def _two_opt(distances: np.ndarray, order: list[int]) -> bool:
    """Reverse one stretch of the route if that shortens it; True when it did."""
    n = len(order)
    for i in range(1, n - 1):
        for k in range(i + 1, n):
            a, b, c = order[i - 1], order[i], order[k]
            d = order[k + 1] if k + 1 < n else None
            if _edge(distances, a, c) + _edge(distances, b, d) < _edge(distances, a, b) + _edge(distances, c, d) - 1e-9:
                order[i:k + 1] = order[i:k + 1][::-1]
                return True
    return False


def _or_opt(distances: np.ndarray, order: list[int]) -> bool:
    """Move one stretch of one to three stops (either way round) elsewhere if that shortens the route."""
    n = len(order)
    for m in (1, 2, 3):
        for i in range(1, n - m + 1):
            stretch, rest = order[i:i + m], order[:i] + order[i + m:]
            after = order[i + m] if i + m < n else None
            gain = (_edge(distances, order[i - 1], stretch[0]) + _edge(distances, stretch[-1], after)
                    - _edge(distances, order[i - 1], after))
            for j in range(1, len(rest) + 1):
                if j == i:
                    continue
                left, right = rest[j - 1], rest[j] if j < len(rest) else None
                for piece in (stretch, stretch[::-1]):
                    cost = (_edge(distances, left, piece[0]) + _edge(distances, piece[-1], right)
                            - _edge(distances, left, right))
                    if cost < gain - 1e-9:
                        order[:] = rest[:j] + piece + rest[j:]
                        return True
    return False


def visiting_order(distances: np.ndarray, *, start: int = 0) -> np.ndarray:
    """An open route through every stop from ``start``: nearest neighbour, then 2-opt and or-opt moves
    until none shortens it.

    Examples
    --------
    >>> d = np.array([[0, 5, 1, 9], [5, 0, 4, 3], [1, 4, 0, 8], [9, 3, 8, 0]], dtype=float)
    >>> visiting_order(d, start=0).tolist()
    [0, 2, 1, 3]
    """
    n = len(distances)
    if n == 0:
        return np.zeros(0, dtype=int)
    order, left = [start], set(range(n)) - {start}
    while left:
        here = order[-1]
        order.append(min(left, key=lambda j: (distances[here, j], j)))
        left.remove(order[-1])
    while _two_opt(distances, order) or _or_opt(distances, order):
        pass
    return np.array(order)


def walking_route(stops: gpd.GeoDataFrame | gpd.GeoSeries, *, streets: gpd.GeoDataFrame | None = None,
                  start: int = 0, crs: CRS | str | int | None = None, spacing_m: float = 10.0) -> WalkRoute:
    """The walking route through ``stops`` (points) from the stop at position ``start``.

    Parameters
    ----------
    stops
        Points with a CRS; not modified.
    streets
        Street lines with a CRS, or None: legs are then straight lines.
    start
        Position (not label) of the first stop.
    crs
        Metric CRS to measure in; default :func:`geo.metric.metric_crs` of the stops.
    spacing_m
        Longest street segment between two vertices, metres.

    Returns
    -------
    WalkRoute
        Walking order, the path as one line in the stops' CRS, metres per leg and in all.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> stops = gpd.GeoSeries(shapely.points([(0, 0), (300, 0), (100, 0)]), crs=4549)
    >>> route = walking_route(stops)
    >>> route.order.tolist(), route.length_m
    ([0, 2, 1], 300.0)
    >>> street = gpd.GeoSeries([shapely.LineString([(0, 10), (300, 10)])], crs=4549)
    >>> walking_route(stops, streets=street).length_m  # each leg: 10 m to the street, along it, 10 m back
    340.0
    """
    geometry = stops.geometry if isinstance(stops, gpd.GeoDataFrame) else stops
    if geometry.crs is None:
        raise ValueError("stops have no CRS; set one (EPSG:4326 for lon/lat)")
    if len(geometry) == 0:
        return WalkRoute(np.zeros(0, dtype=int), None, np.zeros(0), 0.0, False)
    target = CRS.from_user_input(crs) if crs is not None else metric_crs(geometry)
    xy = shapely.get_coordinates(geometry.to_crs(target).to_numpy())
    network = street_network(streets, crs=target, spacing_m=spacing_m) if streets is not None else None
    ways = _ways(xy, network)
    order = visiting_order(ways.distances, start=start)
    legs = np.array([ways.distances[a, b] for a, b in zip(order[:-1], order[1:], strict=True)])
    points = [xy[order[0]]]
    for a, b in zip(order[:-1], order[1:], strict=True):
        if ways.streets is not None and ways.streets[a, b]:
            points.extend(network.xy[_way(ways.previous, a, ways.vertex[b])])
        points.append(xy[b])
    path = shapely.LineString(points) if len(points) > 1 else None
    if path is not None:
        path = gpd.GeoSeries([path], crs=target).to_crs(geometry.crs).iloc[0]
    return WalkRoute(order, path, legs, float(legs.sum()), network is not None)


__all__ = ["WalkRoute", "street_network", "visiting_order", "walking_route"]
