"""linpu grids save / import: grids into the database through governance.adopt_generation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select

from governance.db import transaction
from governance.models import CaseHistory, Grid, GridGeneration, Shop
from pipelines.ingest import ingest_shops
from pipelines.ingest_field import ingest_cases
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import DEMO, GOOD_SHOPS, database_url, snapshot

cli = shop_tests.cli


def _register(engine, n: int = 30):
    shops = pd.read_csv(DEMO / "shops.csv", dtype=str, keep_default_na=False).head(n)
    ingest_shops(engine, shops.to_csv(index=False).encode(), name="shops.csv",
                 now=datetime(2026, 1, 1, tzinfo=UTC))


def _generations(engine) -> list[tuple]:
    with transaction(engine) as session:
        return session.execute(select(GridGeneration.id, GridGeneration.method, GridGeneration.is_current)
                               .order_by(GridGeneration.id)).all()


def test_save_grids_the_stored_shops_and_adopts_them(engine, cli):
    _register(engine)
    url = database_url(engine)
    result = cli(url, "grids", "save", "--json")
    assert result.exit_code == 0, result.stderr
    saved = json.loads(result.stdout)
    assert saved["adopted"]["grids"] == saved["n_grids"] >= 3
    assert saved["adopted"]["shops_reassigned"] == 30
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Shop).where(Shop.grid_id.is_(None))) == 0
    again = cli(url, "grids", "save", "--update")
    assert again.exit_code == 0, again.stderr
    assert [(m, c) for _, m, c in _generations(engine)] == [
        ("linpu-gridding", False), ("linpu-gridding-update", True)]


def test_save_without_shops_is_refused(engine, cli):
    result = cli(database_url(engine), "grids", "save")
    assert result.exit_code == 1 and "there are no open shops" in result.stderr


def test_import_adopts_official_grids_and_moves_cases(engine, cli, tmp_path):
    _register(engine)
    url = database_url(engine)
    assert cli(url, "grids", "save").exit_code == 0
    shops = pd.read_csv(GOOD_SHOPS, dtype=str)
    finding = pd.DataFrame([{"category": "noise", "title": "噪音", "shop_id": shops["shop_id"][0],
                             "created_at": "2026-09-01 22:00"}])
    ingest_cases(engine, finding.to_csv(index=False).encode(), name="f.csv")
    # The official grids: two halves of the district with their own codes and names.
    with transaction(engine) as session:
        area = shapely.union_all(session.scalars(select(Grid.geometry)).all())
    minx, miny, maxx, maxy = area.buffer(0.001).bounds
    mid = (minx + maxx) / 2
    official = gpd.GeoDataFrame({"网格编号": ["SY-01", "SY-02"], "网格名称": ["西片", "东片"]},
                                geometry=[shapely.box(minx, miny, mid, maxy), shapely.box(mid, miny, maxx, maxy)],
                                crs=4326).to_crs(4549)
    path = tmp_path / "official.gpkg"
    official.to_file(path, engine="pyogrio")
    result = cli(url, "grids", "import", path)
    assert result.exit_code == 0, result.stderr
    assert "2 grids" in result.stdout and "1 cases moved" in result.stdout
    with transaction(engine) as session:
        codes = session.scalars(select(Grid.code).join(GridGeneration).where(GridGeneration.is_current)).all()
        regrid = session.scalars(select(CaseHistory.note).where(CaseHistory.action == "regrid")).all()
    assert sorted(codes) == ["SY-01", "SY-02"]
    assert regrid and "SY-0" in regrid[-1]


def test_import_refuses_invalid_polygons_row_by_row(engine, cli, tmp_path):
    _register(engine)
    url = database_url(engine)
    cli(url, "grids", "save")
    before = snapshot(engine), _generations(engine)
    bow_tie = shapely.Polygon([(118.89, 25.11), (118.91, 25.13), (118.91, 25.11), (118.89, 25.13)])
    frame = gpd.GeoDataFrame(
        {"code": ["A", "B", "A", ""]},
        geometry=[shapely.box(118.89, 25.11, 118.90, 25.13), bow_tie, shapely.box(118.90, 25.11, 118.91, 25.13),
                  shapely.Point(118.9, 25.12)],
        crs=4326,
    )
    path = tmp_path / "grids.geojson"
    path.write_text(frame.to_json())
    result = cli(url, "grids", "import", path)
    assert result.exit_code == 1
    assert "grids.geojson row 2 field geometry: invalid polygon: Self-intersection" in result.stderr
    assert "grids.geojson row 1 field code: 'A' is repeated on row 3" in result.stderr
    assert "grids.geojson row 4 field code: is empty" in result.stderr
    assert "grids.geojson row 4 field geometry: is a Point; a polygon is required" in result.stderr
    assert (snapshot(engine), _generations(engine)) == before
