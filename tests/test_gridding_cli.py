"""The 'grids' command group: file in, file out."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from pipelines.commands.grids import grids

TO_LONLAT = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
ORIGIN = np.array([400_000.0, 2_777_000.0])


@pytest.fixture
def shops_file(tmp_path):
    rng = np.random.default_rng(8)
    xy = rng.uniform(0, [300, 200], size=(60, 2)) + ORIGIN
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    shops = gpd.GeoDataFrame(
        {"name": [f"铺{i}" for i in range(60)]}, geometry=gpd.points_from_xy(lon, lat), crs=4326
    )
    path = tmp_path / "shops.geojson"
    shops.to_file(path)
    return path


def run(*args):
    return CliRunner().invoke(grids, [str(a) for a in args], catch_exceptions=False)


def test_build_writes_both_layers_and_prints_the_report(shops_file, tmp_path):
    out = tmp_path / "grids.gpkg"
    result = run("build", "--shops", shops_file, "--out", out)
    assert result.exit_code == 0, result.output
    assert {"grids", "shops"} <= set(pyogrio.list_layers(out)[:, 0])
    layer = gpd.read_file(out, layer="grids")
    shops = gpd.read_file(out, layer="shops")
    assert len(layer) == 6 and layer.n_shops.sum() == 60
    assert shops.grid_code.isin(layer.code).all()
    assert "Polsby-Popper" in result.output and "within [8, 12]: 100.0 %" in result.output


def test_build_json_is_the_quality_report(shops_file, tmp_path):
    result = run(
        "build",
        "--shops",
        shops_file,
        "--out",
        tmp_path / "g.gpkg",
        "--json",
        "--target",
        "12",
        "--max",
        "15",
    )
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["n_shops"] == 60 and report["n_grids"] == 5
    assert report["size"]["bounds"] == [8, 15]


def test_bad_input_exits_1_with_one_line_and_writes_nothing(tmp_path):
    few = tmp_path / "few.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(118.9, 25.1)] * 3, crs=4326).to_file(few)
    out = tmp_path / "g.gpkg"
    result = CliRunner().invoke(grids, ["build", "--shops", str(few), "--out", str(out)])
    assert result.exit_code == 1
    assert "found 3 shops" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_update_reports_changes(shops_file, tmp_path):
    built = tmp_path / "g.gpkg"
    run("build", "--shops", shops_file, "--out", built)
    fewer = tmp_path / "fewer.geojson"
    gpd.read_file(shops_file).iloc[:-7].to_file(fewer)
    result = run("update", "--grids", built, "--shops", fewer, "--out", tmp_path / "g2.gpkg")
    assert result.exit_code == 0, result.output
    assert "shops that changed grid:" in result.output
    assert gpd.read_file(tmp_path / "g2.gpkg", layer="grids").n_shops.sum() == 53


def test_check_reports_shops_outside_hand_drawn_grids(shops_file, tmp_path):
    shops = gpd.read_file(shops_file).to_crs(4549)
    x0, y0, x1, y1 = shops.total_bounds
    mid = (x0 + x1) / 2
    # An official layer that forgot the eastern strip of the district.
    drawn = gpd.GeoDataFrame(
        {"code": ["A01", "A02"]},
        geometry=[
            shapely.box(x0 - 1, y0 - 1, mid, y1 + 1),
            shapely.box(mid, y0 - 1, x1 - 40, y1 + 1),
        ],
        crs=4549,
    )
    path = tmp_path / "official.gpkg"
    drawn.to_file(path, layer="grids")
    result = run("check", "--grids", path, "--shops", shops_file, "--json")
    report = json.loads(result.output)
    east = int((shops.geometry.x > x1 - 40).sum())
    assert east > 0
    assert report["shops_outside_own_grid"] == east
    assert sorted(report["size"]["out_of_bounds"]) == ["A01", "A02"]
