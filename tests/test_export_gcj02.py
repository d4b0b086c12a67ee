"""``linpu export --coords gcj02``: GCJ-02 numbers for AMap-based tools, said in the name and metadata."""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod

from geo.coords import gcj02_to_wgs84, to_gcj02, wgs84_to_gcj02
from tests import test_dashboard as dashboard_tests
from tests import test_ingest_field as field_tests
from tests import test_ingest_shops as shop_tests
from tests.test_dashboard import app, no_exceptions
from tests.test_ingest_field import cases_csv, finding
from tests.test_ingest_shops import database_url

cli, shops_db, use_database = shop_tests.cli, field_tests.shops_db, dashboard_tests.use_database  # fixtures
GEOD = Geod(ellps="WGS84")


def test_to_gcj02_moves_every_vertex_and_leaves_the_input_alone():
    box = shapely.box(118.899, 25.119, 118.901, 25.121)
    frame = gpd.GeoDataFrame({"code": ["G001", "G002"]}, geometry=[box, None], crs=4326).to_crs(4549)
    before = frame.copy()
    moved = to_gcj02(frame)
    assert moved.crs.equals("EPSG:4326") and moved.geometry.iloc[1] is None
    xy = shapely.get_coordinates(moved.geometry.iloc[0])
    true_xy = shapely.get_coordinates(frame.to_crs(4326).geometry.iloc[0])
    shift = GEOD.inv(true_xy[:, 0], true_xy[:, 1], xy[:, 0], xy[:, 1])[2]
    assert ((np.asarray(shift) > 200) & (np.asarray(shift) < 900)).all()  # every vertex, a few hundred metres
    back = np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
    assert np.abs(back - true_xy).max() < 1e-7  # ~1 cm: GCJ-02 of exactly these vertices
    assert frame.geometry.to_wkt().tolist() == before.geometry.to_wkt().tolist() and frame.crs == before.crs


def test_cli_writes_gcj02_points_and_says_so(shops_db, cli, tmp_path):
    url = database_url(shops_db)
    row = finding(0)
    cli(url, "ingest", "cases", cases_csv(tmp_path, [row]))
    result = cli(url, "export", "--layer", "cases", "--format", "geojson", "--coords", "gcj02",
                 "--out", tmp_path / "cases.geojson")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "cases.geojson").exists()
    document = json.loads((tmp_path / "cases-gcj02.geojson").read_text("utf-8"))
    assert "GCJ-02" in document["description"]
    [feature] = document["features"]
    lon, lat = wgs84_to_gcj02([float(row["lon"])], [float(row["lat"])])
    assert np.allclose(feature["geometry"]["coordinates"], [lon[0], lat[0]], atol=1e-7)
    assert "GCJ-02" in result.output

    cli(url, "export", "--layer", "all", "--format", "gpkg", "--coords", "gcj02", "--out", tmp_path / "all.gpkg")
    with sqlite3.connect(tmp_path / "all-gcj02.gpkg") as db:
        descriptions = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
    assert set(descriptions) == {"grids", "shops", "cases", "checks", "hotspots"}
    assert all("GCJ-02" in text for text in descriptions.values())

    cli(url, "export", "--layer", "grids", "--layer", "shops", "--format", "csv", "--coords", "gcj02",
        "--out", tmp_path / "folder")
    assert {p.name for p in (tmp_path / "folder").iterdir()} == {
        "grids-gcj02.csv", "grids-gcj02.prj", "shops-gcj02.csv", "shops-gcj02.prj"}


def test_gcj02_with_a_projected_crs_is_refused_and_nothing_is_written(shops_db, cli, tmp_path):
    result = cli(database_url(shops_db), "export", "--layer", "grids", "--format", "gpkg", "--coords", "gcj02",
                 "--crs", "EPSG:4549", "--out", tmp_path / "grids.gpkg")
    assert result.exit_code != 0
    assert "--coords gcj02" in result.stderr and "EPSG:4549" in result.stderr and "projected" in result.stderr
    assert list(tmp_path.glob("grids*")) == []


def test_the_analyst_can_download_gcj02(use_database, demo_database):
    use_database(demo_database)
    at = app("analyst1", lang="en")
    at.multiselect(key="an-layers").set_value(["shops"])
    at.selectbox(key="an-format").select("geojson")
    at.selectbox(key="an-export-coords").select("gcj02")
    next(b for b in at.button if b.label == "Prepare the files").click().run()
    no_exceptions(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download linpu-shops-gcj02.geojson"]
