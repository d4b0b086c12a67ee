"""Display shaping and the deck layers, without Streamlit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point, box

from dashboard.deck import district_deck
from dashboard.frames import ranking, today_list
from dashboard.tiles import from_display, tile_spec, to_display

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
INJECTION = "<img src=x onerror=alert(1)>"


def cases_frame(**over):
    row = {"case_id": 1, "case_no": "C1", "kind": "patrol", "category": "gas", "severity": "high",
           "title": INJECTION, "state": "warning", "grid_code": "G1", "shop_name": "Tea", "created_at": NOW,
           "due_at": NOW + timedelta(hours=5), "follow_up_due_at": None, "overdue": False, "version": 1}
    rows = [row | over.get(0, {}), row | {"case_id": 2, "case_no": "C2", "state": "follow_up",
                                          "due_at": NOW - timedelta(days=3),
                                          "follow_up_due_at": NOW - timedelta(hours=1), "overdue": True}]
    return gpd.GeoDataFrame(rows, geometry=[Point(118.9, 25.1), Point(118.901, 25.1)], crs=4326)


def test_today_list_puts_the_most_urgent_first_and_uses_the_follow_up_deadline():
    checks = pd.DataFrame([
        {"shop_code": "S1", "shop_name": "Tea", "grid_code": "G1", "category": "gas",
         "last_checked_at": NOW - timedelta(days=40), "due_at": NOW - timedelta(days=10), "overdue": True},
        {"shop_code": "S2", "shop_name": "Rice", "grid_code": "G1", "category": "electricity",
         "last_checked_at": NOW, "due_at": NOW + timedelta(days=30), "overdue": False},
    ])
    todo = today_list(cases_frame(), checks, language="en", now=NOW)
    assert list(todo["case_no"]) == ["", "C2", "C1"]  # check due 10 days ago, follow-up 1 h ago, then C1
    assert "Rice" not in " ".join(todo["what"])  # a check due next month is not today's


def test_ranking_leaves_out_grids_with_too_few_cases():
    summary = pd.DataFrame({
        "code": ["A", "B", "C"], "n_shops": [10, 10, 10], "open_per_10_shops": [1.0, 5.0, 9.0],
        "open": [1, 5, 9], "overdue": [0, 1, 2], "on_time_rate": [1.0, 0.5, 0.2],
        "median_days_to_close": [1.0, 2.0, 3.0], "reopen_count": [0, 1, 2], "mean_rating": [5.0, 4.0, 2.0],
        "rankable": [True, True, False],
    })
    table, unranked = ranking(summary, language="en")
    assert list(table["Grid"]) == ["B", "A"] and unranked == 1


def test_deck_shows_user_text_as_plain_text_and_draws_without_an_internet_basemap():
    grids = gpd.GeoDataFrame({"code": ["G1"], "worst_state": ["warning"], "overdue": [1], "open": [2],
                              "warning": [2]}, geometry=[box(118.899, 25.099, 118.902, 25.102)], crs=4326)
    hot = pd.DataFrame({"code": ["G1"], "gi_z": [0.0], "gi_p": [1.0], "gi_class": ["not_significant"]})
    features = gpd.GeoDataFrame({"kind": [], "name": [], "street_class": []}, geometry=[], crs=4326)
    deck = district_deck(grids, cases_frame(), hot, features, language="en")
    spec = json.loads(deck.to_json())
    text = json.dumps(spec)
    # Tooltips are plain text (Streamlit passes pydeck's tooltip on as it is): the title travels
    # as typed and is never read as HTML.
    assert set(deck._tooltip) == {"text", "style"}
    assert INJECTION in text and "&lt;" not in text
    # pydeck's "no style chosen" sentinel with no provider: Streamlit draws deck.gl alone, with
    # no map library and no basemap to fetch (None would ask for a Carto basemap).
    assert spec["mapStyle"] == "__MAP_STYLE__" and "mapProvider" not in spec
    assert "mapbox" not in text and "cartocdn" not in text
    assert {layer["id"] for layer in spec["layers"]} >= {"grids-warning-overdue", "cases", "warning-hexagons"}


def test_amap_tiles_shift_to_gcj02_and_clicks_come_back():
    frame = gpd.GeoDataFrame(geometry=[Point(118.9, 25.1)], crs=4326)
    shifted = to_display(frame, "amap").geometry.iloc[0]
    assert 100 < abs(shifted.x - 118.9) * 100_000 + abs(shifted.y - 25.1) * 111_000 < 1500  # metres-ish
    lon, lat = from_display(shifted.x, shifted.y, "amap")
    assert abs(lon - 118.9) < 1e-7 and abs(lat - 25.1) < 1e-7
    assert to_display(frame, "osm").geometry.iloc[0].equals(Point(118.9, 25.1))
    assert tile_spec("none") is None and tile_spec("tianditu") is None
    assert "tk=KEY" in tile_spec("tianditu", "KEY")["tiles"]


def test_warning_hexagons_keep_every_warning_and_colour_the_busiest_darkest():
    import numpy as np

    from dashboard.deck import HEX_COLOURS, warning_hexagons

    rng = np.random.default_rng(0)
    xy = np.column_stack([118.55 + rng.random(500) * 0.1, 24.85 + rng.random(500) * 0.1])
    weights = rng.integers(1, 9, 500)
    cells = warning_hexagons(xy, weights, (118.55, 24.85, 118.65, 24.95))
    assert cells["w"].sum() == weights.sum()  # nothing lost or counted twice
    assert 100 < len(cells) < 500 and cells.attrs["radius_m"] > 60  # binned, not one per grid
    assert cells.loc[cells["w"].idxmax(), "k"] == len(HEX_COLOURS) - 1 and cells["k"].min() >= 0
    one = warning_hexagons(xy[:1], np.array([1]), (118.55, 24.85, 118.56, 24.86))
    assert one["w"].tolist() == [1] and one["k"].tolist() == [0]


def test_city_scale_deck_sends_grid_points_with_short_rows():
    from dashboard.deck import POLYGON_LIMIT

    n = POLYGON_LIMIT + 1
    side = int(n ** 0.5) + 1
    cells = [box(118.5 + (i % side) * 1e-3, 24.8 + (i // side) * 1e-3, 118.501 + (i % side) * 1e-3,
                 24.801 + (i // side) * 1e-3) for i in range(n)]
    grids = gpd.GeoDataFrame({"code": [f"G{i:05d}" for i in range(n)], "worst_state": ["warning"] * n,
                              "overdue": [1] * n, "open": [2] * n, "warning": [2] * n}, geometry=cells, crs=4326)
    hot = pd.DataFrame({"code": [], "gi_z": [], "gi_p": [], "gi_class": []})
    features = gpd.GeoDataFrame({"kind": [], "name": [], "street_class": []}, geometry=[], crs=4326)
    text = district_deck(grids, cases_frame(), hot, features, language="zh", selected_code="G00007").to_json()
    spec = json.loads(text)
    layers = {layer["id"]: layer for layer in spec["layers"]}
    grid_layer = layers["grids-warning-overdue"]
    assert grid_layer["@@type"] == "ScatterplotLayer" and "selected-grid" in layers
    assert set(grid_layer["data"][0]) == {"c", "t", "d", "p"} and len(grid_layer["data"]) == n
    assert grid_layer["getFillColor"] == [215, 48, 31, 120]  # one colour for the layer, none per grid
    assert "预警" in text and "\\u" not in text  # Chinese as UTF-8, not six-byte escapes
    assert len(text.encode()) / n < 120  # bytes per grid


def test_grid_pickers_list_every_code_in_a_district_and_take_typed_codes_in_a_city():
    from dashboard.frames import known_codes, picker_options

    codes = [f"G{i:03d}" for i in range(40)]
    assert picker_options(codes) == (codes, False)
    city = [f"G{i:05d}" for i in range(10_000)]
    options, typed = picker_options(city, chosen=["G09999"], suggested=["G00001", "G09999", "G00002"], limit=2)
    assert typed and options == ["G09999", "G00001"]
    assert known_codes([" G00001", "nope", ""], city) == (["G00001"], ["nope"])
    assert known_codes(None, city) == ([], []) and known_codes("G00002", city) == (["G00002"], [])


def test_a_grid_picked_on_the_map_is_found_in_whichever_grid_layer():
    from dashboard.deck import picked_grid

    assert picked_grid({"cases": [{"c": "C1"}], "grids-closed": [{"c": "G7"}]}) == "G7"
    assert picked_grid({"grids-warning-overdue": []}) is None and picked_grid({}) is None
