"""The supervisor page on a database with more grids than a picker lists (AppTest, SQLite).

A small "city" from the dashboard benchmark's generator: 600 grids, one shop
each, 6,000 cases.  Beyond PICKER_LIMIT grids the pickers take typed
codes instead of listing every one, and the ranking table still ranks all.
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.dashboard_bench import build_city_db
from dashboard.frames import PICKER_LIMIT
from governance.login import issue_token
from governance.settings import get_settings
from tests.test_dashboard import APP, TIMEOUT

N_GRIDS = 600


@pytest.fixture(scope="module")
def city_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('city') / 'city.sqlite3'}"
    build_city_db(url, n_grids=N_GRIDS, shops_per_grid=1, n_cases=6000)
    return url


@pytest.fixture
def supervisor_page(city_url, monkeypatch):
    monkeypatch.setenv("LINPU_DATABASE_URL", city_url)
    monkeypatch.setenv("LINPU_DEMO_MODE", "false")
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["linpu_token"] = issue_token("supervisor")
    at.query_params["lang"] = "en"
    yield at.run()
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


def kpis(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Open "))


def test_city_pickers_take_typed_codes_and_name_unknown_ones(supervisor_page):
    at = supervisor_page
    assert not at.exception, [e.value for e in at.exception]
    assert N_GRIDS > PICKER_LIMIT
    grids = at.multiselect(key="sup-grids")
    assert len(grids.options) < PICKER_LIMIT  # not every code shipped to the browser
    everything = kpis(at)
    grids.set_value(["G00042", "G99999"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No such grids, ignored: G99999" in [w.value for w in at.warning]
    assert kpis(at) != everything  # the figures are those of the one known grid

    detail = at.selectbox(key="sup-grid")
    assert len(detail.options) <= 101  # the worst-ranked grids, plus the chosen one
    assert "G00599" not in detail.options


def test_city_grid_not_listed_opens_its_detail(supervisor_page):
    # A code that is not listed (typed, or a grid clicked on the map) still opens its detail.
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["linpu_token"] = issue_token("supervisor")
    at.session_state["sup-grid"] = "G00599"
    at.query_params["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="sup-grid").value == "G00599"
    assert "**Team**" in [m.value for m in at.markdown]


def test_city_ranking_ranks_every_grid_with_enough_cases(supervisor_page):
    at = supervisor_page
    table = next(d for d in at.dataframe if "Rank" in d.value.columns)
    note = next(c.value for c in at.caption if "too few cases to rank" in c.value)
    unranked = int(note.rsplit(":", 1)[1])
    assert len(table.value) + unranked == N_GRIDS  # the whole ranking, not a first page


def test_city_map_opens_on_grid_points_and_hotspots_with_other_layers_a_switch_away(city_url, monkeypatch):
    # Beyond POLYGON_LIMIT grids the map is "city scale" (600 here, with the limit lowered).
    monkeypatch.setattr("dashboard.deck.POLYGON_LIMIT", 100)
    monkeypatch.setenv("LINPU_DATABASE_URL", city_url)
    monkeypatch.setenv("LINPU_DEMO_MODE", "false")
    get_settings.cache_clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["linpu_token"] = issue_token("supervisor")
    at.query_params["lang"] = "en"
    at.run()

    def layers(at) -> dict[str, str]:
        spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
        return {layer["id"]: layer["@@type"] for layer in spec["layers"]}

    assert not at.toggle(key="sup-layer-cases").value and not at.toggle(key="sup-layer-heat").value
    assert at.toggle(key="sup-layer-hotspots").value
    shown = layers(at)
    grid_layers = {kind for layer_id, kind in shown.items() if layer_id.startswith("grids")}
    assert grid_layers == {"ScatterplotLayer"}, shown  # one point per grid
    assert "warning-hexagons" not in shown and "cases" not in shown

    at.toggle(key="sup-layer-heat").set_value(True).run()
    at.toggle(key="sup-layer-cases").set_value(True).run()
    shown = layers(at)
    assert shown["warning-hexagons"] == "ColumnLayer" and shown["cases"] == "ScatterplotLayer"
    st.cache_data.clear()
    get_settings.cache_clear()
