"""The map layers served by URL (dashboard.layer_routes) through Starlette's TestClient, on
SQLite and PostGIS: only to a signed-in browser, the same rows the deck would carry, kept
by the browser under a version that changes exactly when the stored features do."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
import streamlit as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.deck import STATIC_LAYERS, district_deck, features_of_kind, static_layer_rows
from dashboard.layer_routes import KEPT, REVALIDATED, layer_urls
from dashboard.routes import COOKIE_NAME, ROUTES
from governance.db import transaction
from governance.district import replace_layer
from governance.login import issue_token
from governance.models import User
from governance.queries import district_features
from governance.settings import get_settings

BOUNDARY = shapely.box(118.5900, 24.9000, 118.6000, 24.9100)
MAIN = shapely.LineString([(118.5901234567, 24.9001234567), (118.5998765432, 24.9098765432)])
LANE = shapely.LineString([(118.5950, 24.9001), (118.5950, 24.9099)])


def frame(geometries, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [f"f{i}" for i in range(len(geometries))], **columns},
                            geometry=geometries, crs=4326)


@pytest.fixture
def app_db(engine, monkeypatch):
    """``engine`` with a boundary, two streets and a supervisor; the app's routes pointed at it."""
    with transaction(engine) as session:
        session.add(User(username="sup", display_name="督导", role="supervisor"))
        replace_layer(session, "boundary", frame([BOUNDARY]))
        replace_layer(session, "streets", frame([MAIN, LANE], **{"class": ["main", "lane"]}))
    monkeypatch.setenv("LINPU_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    st.cache_resource.clear()
    yield engine
    get_settings.cache_clear()
    st.cache_resource.clear()


def stored(engine):
    with transaction(engine) as session:
        return district_features(session)


def signed_in_client(engine) -> TestClient:
    with transaction(engine) as session:
        token = issue_token("sup", session=session)
    client = TestClient(Starlette(routes=ROUTES))
    client.cookies.set(COOKIE_NAME, token)
    return client


def test_a_layer_is_served_only_to_a_signed_in_browser_with_the_rows_the_deck_would_carry(app_db):
    urls = layer_urls(stored(app_db))
    assert set(urls) == {"boundary", "streets"}  # no stall zone or service point stored
    anonymous = TestClient(Starlette(routes=ROUTES))
    refused = anonymous.get(urls["streets"])
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"
    anonymous.cookies.set(COOKIE_NAME, "forged")
    assert anonymous.get(urls["streets"]).status_code == 401

    client = signed_in_client(app_db)
    response = client.get(urls["streets"], headers={"accept-encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == KEPT == "private, max-age=31536000, immutable"
    assert response.headers["vary"] == "Accept-Encoding"
    rows = response.json()
    streets = features_of_kind(stored(app_db), "street")
    assert rows == static_layer_rows("streets", streets)
    # Rounded to what the map shows: 5 decimals (1 m) for street centre lines.
    assert rows[0]["path"][0] == [118.59012, 24.90012]
    assert [row["width"] for row in rows] == [8, 2] and rows[0]["color"] == [140, 140, 140, 255]
    # The deck given the URLs names them and carries no street row; without them it embeds
    # the very rows the route serves.
    empty = gpd.GeoDataFrame(geometry=[], crs=4326)
    grid = gpd.GeoDataFrame({"code": ["G001"], "worst_state": ["warning"], "open": [1], "overdue": [0],
                             "warning": [1]}, geometry=[BOUNDARY], crs=4326)
    by_url = json.loads(district_deck(grid, empty, empty, stored(app_db), language="en", layer_urls=urls,
                                      show_heat=False).to_json())
    layers = {layer["id"]: layer for layer in by_url["layers"]}
    assert layers["streets"]["data"] == urls["streets"]
    assert layers["district-boundary"]["data"] == urls["boundary"]
    embedded = json.loads(district_deck(grid, empty, empty, stored(app_db), language="en",
                                        show_heat=False).to_json())
    assert next(layer for layer in embedded["layers"] if layer["id"] == "streets")["data"] == rows

    # The browser's copy is current: 304, nothing sent again.
    again = client.get(urls["streets"], headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # Without the version the file is revalidated, never kept blindly; an unknown layer is named.
    plain = client.get("/linpu/layers/streets.json", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and plain.headers["cache-control"] == REVALIDATED
    assert "content-encoding" not in plain.headers and plain.json() == rows
    missing = client.get("/linpu/layers/shops.json")
    assert missing.status_code == 404 and "streets" in missing.text


def test_the_version_changes_exactly_when_the_layer_does(app_db):
    before = layer_urls(stored(app_db))
    client = signed_in_client(app_db)
    # Same lines, one reclassified: same count, and on SQLite the same ids again.
    with transaction(app_db) as session:
        replace_layer(session, "streets", frame([MAIN, LANE], **{"class": ["main", "street"]}))
    after = layer_urls(stored(app_db))
    assert after["streets"] != before["streets"]
    assert after["boundary"] == before["boundary"]  # another layer's file stays where the browser keeps it
    # A page built before the change still gets the current rows, to revalidate, not to keep.
    stale = client.get(before["streets"])
    assert stale.status_code == 200 and stale.headers["cache-control"] == REVALIDATED
    assert [row["width"] for row in stale.json()] == [8, 5]
    assert client.get(after["streets"]).headers["cache-control"] == KEPT
    # Written back as it was, the layer is the same file under the same URL.
    with transaction(app_db) as session:
        replace_layer(session, "streets", frame([MAIN, LANE], **{"class": ["main", "lane"]}))
    assert layer_urls(stored(app_db)) == before
    # Stall zones and service points get theirs once stored.
    with transaction(app_db) as session:
        replace_layer(session, "stalls", frame([shapely.box(118.591, 24.901, 118.592, 24.902)]))
        replace_layer(session, "service_points", frame([shapely.Point(118.5955, 24.9055)]))
    urls = layer_urls(stored(app_db))
    assert set(urls) == set(STATIC_LAYERS)
    assert client.get(urls["service-points"]).json() == [{"position": [118.5955, 24.9055]}]
    assert client.get(urls["stalls"]).json()[0]["polygon"][0] == [118.592, 24.901]
