"""The day's walk: the route through a leader's stops, straight or along the streets, in metres."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.walk import visiting_order, walking_route

METRIC = 4549


def _stops(xy, crs=METRIC) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(xy))]}, geometry=shapely.points(xy), crs=crs)


def _streets(*lines) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.LineString(line) for line in lines], crs=METRIC)


def test_straight_line_route_visits_a_row_of_stops_in_order_with_its_length():
    stops = _stops([(0, 0), (300, 0), (100, 0), (200, 0)])
    route = walking_route(stops)
    assert route.order.tolist() == [0, 2, 3, 1]
    assert route.legs_m.tolist() == [100, 100, 100] and route.length_m == 300
    assert not route.along_streets
    assert shapely.get_coordinates(route.path).tolist() == [[0, 0], [100, 0], [200, 0], [300, 0]]


def test_along_the_streets_the_way_goes_round_the_block_and_the_path_follows_it():
    # Two shops back to back across a block: 100 m apart in a straight line, 300 m by the streets.
    stops = _stops([(0, 0), (100, 0)])
    streets = _streets([(0, 0), (0, 100), (100, 100), (100, 0)])
    route = walking_route(stops, streets=streets)
    assert route.along_streets and route.length_m == pytest.approx(300)
    corners = {tuple(c) for c in shapely.get_coordinates(route.path)}
    assert {(0, 100), (100, 100)} <= corners


def test_crossing_streets_connect_where_they_cross_and_a_stop_off_the_street_walks_to_it():
    # A "+" of two streets with no shared vertex; stops 5 m off the ends of different arms.
    streets = _streets([(-100, 0), (100, 0)], [(0, -100), (0, 100)])
    stops = _stops([(-100, 5), (5, 100)])
    route = walking_route(stops, streets=streets)
    assert route.length_m == pytest.approx(5 + 100 + 100 + 5, abs=0.5)


def test_stops_the_streets_do_not_connect_are_joined_straight():
    streets = _streets([(0, 0), (100, 0)], [(500, 0), (600, 0)])
    stops = _stops([(0, 0), (100, 0), (600, 0)])
    route = walking_route(stops, streets=streets)
    assert route.order.tolist() == [0, 1, 2]
    assert route.legs_m.tolist() == pytest.approx([100, 500])


def test_the_route_starts_at_the_first_stop_and_is_no_longer_than_nearest_neighbour():
    rng = np.random.default_rng(3)
    for _ in range(20):
        xy = rng.uniform(0, 1000, (7, 2))
        d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
        order = visiting_order(d, start=0)
        length = d[order[:-1], order[1:]].sum()
        best = min(d[(0, *p)[:-1], (0, *p)[1:]].sum() for p in itertools.permutations(range(1, 7)))
        assert order[0] == 0 and sorted(order) == list(range(7))
        assert length <= best * 1.10  # 2-opt: within a tenth of the best open route on these seeds


def test_lon_lat_stops_keep_their_crs_and_are_not_changed():
    stops = _stops([(118.905, 25.105), (118.906, 25.105)], crs=4326)
    before = stops.copy()
    route = walking_route(stops)
    assert 95 < route.length_m < 105  # 0.001° of longitude at 25.1° N
    assert route.path.bounds == pytest.approx((118.905, 25.105, 118.906, 25.105))
    assert stops.equals(before)
    assert walking_route(stops.iloc[0:0]).length_m == 0
    with pytest.raises(ValueError, match="no CRS"):
        walking_route(stops.set_crs(None, allow_override=True))
