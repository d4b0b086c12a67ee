"""The day's walk: the route through a leader's stops, straight or along the streets, in metres."""

from __future__ import annotations

import itertools
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from dashboard.cards import card_items
from dashboard.data import day_walk
from dashboard.day_walk import in_walking_order, walk_stops
from dashboard.maps import leader_map
from geo.walk import visiting_order, walking_route
from governance.check_due import checks_due
from governance.db import make_engine, session_factory, transaction
from governance.permissions import viewer_for
from governance.queries import cases_frame, district_features, open_shops
from governance.workflow import file_case
from tests.test_dashboard import app, no_exceptions, use_database, writable_demo  # noqa: F401, F811 (fixtures)

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


# --- on the leader's page ---------------------------------------------------------------------------


def _items(*places):
    """Today cards: ("case", case_no) or ("check", shop_code)."""
    return [{"kind": kind, "case_no": key if kind == "case" else "", "shop_code": key if kind == "check" else "",
             "title": f"<b>{key}</b>"} for kind, key in places]


def test_cards_become_stops_at_their_case_or_shop_and_are_numbered_in_walking_order():
    cases = gpd.GeoDataFrame({"case_no": ["C1", "C2"]}, geometry=shapely.points([(118.9, 25.1), (118.903, 25.1)]),
                             crs=4326)
    shops = gpd.GeoDataFrame({"shop_code": ["S1"]}, geometry=shapely.points([(118.901, 25.1)]), crs=4326)
    items = _items(("case", "C2"), ("check", "S1"), ("check", "S-gone"), ("case", "C1"))
    stops = walk_stops(items, cases, shops)
    assert stops["item"].tolist() == [0, 1, 3]  # the shop that is gone has no place
    route = walking_route(stops)
    ordered = in_walking_order(items, stops.iloc[route.order])
    assert [(i.get("stop"), i["case_no"] or i["shop_code"]) for i in ordered] == [
        (1, "C2"), (2, "S1"), (3, "C1"), (None, "S-gone")]
    assert 295 < route.length_m < 310  # 0.003° of longitude at 25.1° N, walked once


def test_the_leader_map_draws_the_walk_numbered_with_titles_escaped():
    stops = gpd.GeoDataFrame({"item": [0, 1], "title": ["<img src=x onerror=alert(1)>", "b"], "stop": [1, 2]},
                             geometry=shapely.points([(118.905, 25.105), (118.906, 25.105)]), crs=4326)
    walk = {"stops": stops, "path": shapely.LineString([(118.905, 25.105), (118.906, 25.105)]),
            "length_m": 101.0, "along_streets": False}
    grids = gpd.GeoDataFrame({"code": ["G001"], "n_shops": [1]},
                             geometry=[shapely.box(118.90, 25.10, 118.91, 25.11)], crs=4326)
    summary = pd.DataFrame({"code": ["G001"], "open": [0], "overdue": [0], "worst_state": [None]})
    empty = gpd.GeoDataFrame({"kind": [], "name": [], "street_class": []}, geometry=[], crs=4326)
    fmap = leader_map(grids, summary, empty.iloc[0:0].assign(shop_code=[], name=[]), gpd.GeoDataFrame(
        geometry=[], crs=4326), empty, walk=walk, language="en")
    page = fmap.get_root().render()
    # Each icon's options as folium writes them (JSON with a trailing comma).
    icons = [json.loads(re.sub(r",\s*}$", "}", found))
             for found in re.findall(r"L\.divIcon\((\{.*?\})\)", page, re.S)]
    numbers = [re.sub(r"<[^>]+>", "", icon["html"]) for icon in icons if icon["className"] == "linpu-walk-stop"]
    assert numbers == ["1", "2"]
    assert "Walk of 101 m" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_leaders_today_list_as_a_walk_numbered_with_its_length_along_the_streets(
        use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    with transaction(engine) as session:  # four findings at shops of the leader's grid, far apart
        leader = viewer_for(session, "leader01")
        shops = open_shops(session, leader).sort_values("shop_code")
        for shop in shops.iloc[:: max(len(shops) // 4, 1)].head(4).itertuples():
            file_case(session, leader, kind="patrol", category="noise", severity="low", title=f"walk {shop.shop_code}",
                      lon=shop.geometry.x, lat=shop.geometry.y, shop_code=shop.shop_code)
    at = app("leader01", lang="en")
    no_exceptions(at)
    cards_before = [m.value for m in at.markdown if "linpu-card" in m.value]
    assert cards_before and not any("linpu-stop" in c for c in cards_before)
    at.toggle(key="today-walk").set_value(True).run()
    no_exceptions(at)
    summary = next(c.value for c in at.caption if c.value.startswith("Walk:"))
    n, metres = re.match(r"Walk: (\d+) stops, ([\d,]+) m \(along the streets\)", summary).groups()
    numbers = [int(x) for m in at.markdown
               for x in re.findall(r'class="linpu-stop"[^>]*>(\d+)<', m.value)]
    assert numbers == list(range(1, int(n) + 1)) and int(n) >= 5
    # The same stops in a straight line are no longer than along the streets.
    with session_factory(engine)() as session:
        leader = viewer_for(session, "leader01")
        cases, shops = cases_frame(session, leader), open_shops(session, leader)
        due, features = checks_due(session, leader), district_features(session)
    engine.dispose()
    items = card_items(cases, due, language="en")
    along = day_walk(items, cases, shops, features)
    straight = day_walk(items, cases, shops, features.iloc[0:0])
    assert int(metres.replace(",", "")) == round(along["length_m"])
    assert straight["length_m"] <= along["length_m"] and not straight["along_streets"]
