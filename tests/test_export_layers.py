"""linpu export: the stored layers, filtered, in every format, read back by ogrinfo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy import select

from governance.db import make_engine, transaction
from governance.filters import CaseFilter
from governance.grids import current_grids
from governance.models import Grid
from governance.permissions import system_viewer
from governance.queries import cases_frame, checks_frame, open_shops
from pipelines.export import FORMATS, LAYERS, export_layers, gather_layers
from pipelines.ingest import ingest_shops
from pipelines.ingest_field import ingest_cases
from tests import test_ingest_shops as shop_tests
from tests.test_export_formats import OGRINFO, needs_ogrinfo, ogr_layers, same_crs
from tests.test_ingest_shops import GOOD_SHOPS, seed_district

cli = shop_tests.cli


@pytest.fixture(scope="module")
def demo_counts(demo_database) -> dict[str, int]:
    engine = make_engine(demo_database)
    with transaction(engine) as session:
        viewer = system_viewer()
        counts = {
            "grids": len(current_grids(session, viewer)),
            "shops": len(open_shops(session, viewer)),
            "cases": len(cases_frame(session, viewer)),
            "checks": len(checks_frame(session, viewer)),
        }
    counts["hotspots"] = counts["grids"]
    engine.dispose()
    return counts


@needs_ogrinfo
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_layer_in_every_format_opens_in_ogrinfo_with_counts_and_crs(demo_database, demo_counts, cli,
                                                                           tmp_path, fmt):
    crs = "EPSG:4326" if fmt == "kml" else "EPSG:4549"
    out = tmp_path / ("all.gpkg" if fmt == "gpkg" else "all")
    result = cli(demo_database, "export", "--layer", "all", "--format", fmt, "--out", out, "--crs", crs, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["features"] == demo_counts
    epsg = int(crs.split(":")[1])
    if fmt == "parquet":
        for layer in LAYERS:
            frame = gpd.read_parquet(out / f"{layer}.parquet")
            assert len(frame) == demo_counts[layer] and frame.crs.to_epsg() == epsg
        return
    files = [out] if fmt == "gpkg" else [out / f"{layer}{FORMATS[fmt][1]}" for layer in LAYERS]
    found = {}
    for path in files:
        for name, (count, found_crs) in ogr_layers(path).items():
            assert same_crs(found_crs, epsg), (path, found_crs)
            found[path.name.split(".")[0] if fmt != "gpkg" else name] = count
    assert found == demo_counts


def test_grids_carry_the_loop_summary_and_the_stored_codes(demo_database, cli, tmp_path):
    out = tmp_path / "grids.gpkg"
    assert cli(demo_database, "export", "--layer", "grids", "--format", "gpkg", "--out", out).exit_code == 0
    grids = gpd.read_file(out, layer="grids")
    for column in ("code", "n_shops", "warning", "in_progress", "follow_up", "closed", "open", "overdue",
                   "worst_state", "median_days_to_close", "on_time_rate"):
        assert column in grids.columns, column
    engine = make_engine(demo_database)
    with transaction(engine) as session:
        stored = set(session.scalars(select(Grid.code)).all())
    engine.dispose()
    assert set(grids["code"]) <= stored and len(grids) > 0
    assert grids["open"].sum() > 0


def test_hotspots_have_gi_star_z_and_p(demo_database, cli, tmp_path):
    out = tmp_path / "hot.geojson"
    assert cli(demo_database, "export", "--layer", "hotspots", "--format", "geojson", "--out", out).exit_code == 0
    hot = gpd.read_file(out)
    assert {"code", "cases", "gi_z", "gi_p", "gi_class"} <= set(hot.columns)
    assert hot["gi_p"].between(0, 1).all() and hot["cases"].sum() > 0


def test_filters_narrow_cases_and_checks(demo_database, cli, tmp_path):
    engine = make_engine(demo_database)
    with transaction(engine) as session:
        cases = cases_frame(session, system_viewer())
    engine.dispose()
    newest = pd.Timestamp(cases["created_at"].max()).tz_convert("Asia/Shanghai")
    start = (newest - timedelta(days=30)).strftime("%Y-%m-%d")
    grid = cases["grid_code"].value_counts().index[0]
    out = tmp_path / "cases.csv"
    result = cli(demo_database, "export", "--layer", "cases", "--format", "csv", "--out", out,
                 "--start", start, "--category", "fumes", "--category", "noise", "--state", "warning",
                 "--state", "in_progress", "--grid", grid)
    assert result.exit_code == 0, result.stderr
    exported = pd.read_csv(out, encoding="utf-8-sig")
    start_utc = pd.Timestamp(start, tz="Asia/Shanghai").tz_convert(UTC)
    expected = cases[(cases["created_at"] >= start_utc) & cases["category"].isin(["fumes", "noise"])
                     & cases["state"].isin(["warning", "in_progress"]) & (cases["grid_code"] == grid)]
    assert len(exported) == len(expected)
    assert set(exported["grid_code"]) <= {grid}


def test_usage_errors_exit_2(demo_database, cli, tmp_path):
    bad_layer = cli(demo_database, "export", "--layer", "roads", "--format", "gpkg", "--out", tmp_path / "x.gpkg")
    assert bad_layer.exit_code == 2
    kml = cli(demo_database, "export", "--layer", "grids", "--format", "kml", "--out", tmp_path / "x.kml",
              "--crs", "EPSG:4549")
    assert kml.exit_code == 2 and "KML is WGS84" in kml.stderr
    dates = cli(demo_database, "export", "--layer", "cases", "--format", "csv", "--out", tmp_path / "c.csv",
                "--start", "2026-10-02", "--end", "2026-10-01")
    assert dates.exit_code == 2


def test_export_from_postgis_and_sqlite_alike(engine, tmp_path):
    seed_district(engine)
    ingest_shops(engine, GOOD_SHOPS, now=datetime(2026, 1, 1, tzinfo=UTC))
    shops = pd.read_csv(GOOD_SHOPS, dtype=str)
    finding = pd.DataFrame([{"category": "noise", "title": "夜间噪音", "shop_id": shops["shop_id"][i],
                             "created_at": f"2026-09-0{i + 1} 22:00"} for i in range(3)])
    ingest_cases(engine, finding.to_csv(index=False).encode(), name="f.csv")
    result = export_layers(engine, layers=["all"], fmt="gpkg", out=tmp_path / "x.gpkg",
                           filters=CaseFilter(categories=("noise",)))
    assert result.features == {"grids": 4, "shops": 20, "cases": 3, "checks": 0, "hotspots": 4}
    grids = gpd.read_file(tmp_path / "x.gpkg", layer="grids")
    assert grids["warning"].sum() == 3 and grids.crs.to_epsg() == 4326
    if OGRINFO:
        assert {name: n for name, (n, _) in ogr_layers(tmp_path / "x.gpkg").items()}["cases"] == 3
    with transaction(engine) as session:
        frames = gather_layers(session, ["cases"], filters=CaseFilter(grid_codes=("G999",)))
    assert len(frames["cases"]) == 0
    assert CaseFilter  # the filters travel as the governance CaseFilter


def test_export_bytes_for_the_dashboard_download(demo_database, tmp_path):
    import io
    import zipfile

    from governance.permissions import viewer_for
    from pipelines.export import export_bytes

    engine = make_engine(demo_database)
    name, data, media = export_bytes(engine, layers=["grids"], fmt="geojson")
    assert name == "linpu.geojson" and media == "application/geo+json"
    assert json.loads(data)["type"] == "FeatureCollection"
    name, data, media = export_bytes(engine, layers=["shops"], fmt="csv")
    assert name == "linpu-csv.zip" and set(zipfile.ZipFile(io.BytesIO(data)).namelist()) == {"linpu.csv", "linpu.prj"}
    with transaction(engine) as session:
        leader = viewer_for(session, "leader01")
    name, data, _ = export_bytes(engine, layers=["grids"], fmt="gpkg", viewer=leader)
    (tmp_path / name).write_bytes(data)
    assert len(gpd.read_file(tmp_path / name, layer="grids")) == len(leader.grid_ids)  # their grids only
    engine.dispose()
