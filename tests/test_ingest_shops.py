"""linpu ingest shops: formats, stable ids, re-ingest, GCJ-02, and the bad-input corpus.

Every test runs against a real database (SQLite, and PostGIS when
``LINPU_TEST_DATABASE_URL`` is set) holding the demo district's boundary
and four current grids, through the same CLI a user types.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import Engine, select

from geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from governance.db import transaction
from governance.models import DistrictFeature, Grid, GridGeneration, Shop, ShopBadge
from governance.settings import get_settings
from pipelines.commands.root import main
from pipelines.ingest import derived_shop_id, ingest_shops
from pipelines.readers import InputFileError, read_bytes

DATA = Path(__file__).resolve().parent / "data"
BAD = DATA / "bad"
GOOD_SHOPS = DATA / "good" / "shops.csv"
DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def seed_district(engine: Engine) -> None:
    """The demo boundary and four current grids (its quadrants), no shops."""
    boundary = gpd.read_file(DEMO / "boundary.geojson").geometry.iloc[0]
    minx, miny, maxx, maxy = boundary.bounds
    midx, midy = (minx + maxx) / 2, (miny + maxy) / 2
    boxes = {
        "G001": shapely.box(minx, midy, midx, maxy), "G002": shapely.box(midx, midy, maxx, maxy),
        "G003": shapely.box(minx, miny, midx, midy), "G004": shapely.box(midx, miny, maxx, midy),
    }
    with transaction(engine) as session:
        session.add(DistrictFeature(kind="boundary", name="永嘉国潮街区", geometry=boundary))
        generation = GridGeneration(method="test", params={}, quality={}, is_current=True, created_at=NOW)
        session.add(generation)
        session.flush()
        for code, box in boxes.items():
            session.add(Grid(generation_id=generation.id, code=code, n_shops=0,
                             geometry=box.intersection(boundary)))


@pytest.fixture
def district(engine) -> Engine:
    seed_district(engine)
    return engine


@pytest.fixture
def cli(monkeypatch):
    """Run ``linpu`` in-process against a database URL, as a user would."""

    def run(url: str, *args: str, input: str | None = None):
        monkeypatch.setenv("LINPU_DATABASE_URL", url)
        get_settings.cache_clear()
        result = CliRunner().invoke(main, [str(a) for a in args], input=input)
        get_settings.cache_clear()
        # A traceback never reaches the user: only SystemExit may end a command.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output + result.stderr
        return result

    yield run
    get_settings.cache_clear()


def snapshot(engine: Engine) -> list:
    """Everything an ingest may touch, to prove a refused file changed nothing."""
    with transaction(engine) as session:
        shops = session.execute(
            select(Shop.shop_code, Shop.name, Shop.trade, Shop.street, Shop.party_member_operator,
                   Shop.grid_id, Shop.closed_at, Shop.geometry).order_by(Shop.shop_code)
        ).all()
        badges = session.execute(
            select(ShopBadge.shop_id, ShopBadge.badge, ShopBadge.revoked_at).order_by(ShopBadge.id)
        ).all()
        grids = session.execute(select(Grid.code, Grid.n_shops).order_by(Grid.code)).all()
    return [[(*row[:-1], row[-1].wkt) for row in shops], badges, grids]


def stored_shops(engine: Engine) -> pd.DataFrame:
    with transaction(engine) as session:
        rows = session.execute(
            select(Shop.shop_code, Shop.name, Shop.closed_at, Grid.code, Shop.geometry)
            .outerjoin(Grid, Grid.id == Shop.grid_id).order_by(Shop.shop_code)
        ).all()
    return pd.DataFrame(rows, columns=["shop_code", "name", "closed_at", "grid_code", "geometry"])


# --- the bad-input corpus -----------------------------------------------------

BAD_FILES = {
    "truncated.csv": "truncated.csv row 6 field lon: the line has 4 fields, the header 8: it is cut short",
    "unclosed_quote.csv": "unclosed_quote.csv row 5 field name: unexpected end of data",
    "wrong_encoding.csv": "wrong_encoding.csv row 2 field name: bytes E9 20 are neither UTF-8 nor GBK",
    "text_in_numbers.csv": "text_in_numbers.csv row 4 field lon: '东经118.90度' is not a number",
    "swapped_coordinates.csv": "swapped_coordinates.csv row 2 field lon: longitude 25.1167 and "
                               "latitude 118.9 look swapped",
    "empty.csv": "empty.csv row 1 field (header): the file is empty",
    "duplicate_ids.csv": "duplicate_ids.csv row 3 field shop_id: 'YJ0002' is repeated on row 5",
    "invalid_polygons.geojson": "invalid_polygons.geojson row 2 field geometry: invalid polygon: "
                                "Self-intersection",
    "not_geojson.geojson": "not_geojson.geojson row 1 field (json): not GeoJSON",
    "not_a_feature_collection.geojson": "not_a_feature_collection.geojson row 1 field type: not GeoJSON: "
                                        "expected a FeatureCollection, found 'Topology'",
    "empty.xlsx": "empty.xlsx row 1 field (header): the file is empty (0 bytes)",
    "outside_district.csv": "outside_district.csv row 4 field lon: (118.950000, 25.117118) lies 4.5 km "
                            "outside the district boundary",
}


#: Files refused until issue 16 made trade optional and kept unknown trade words (see test_register_trades.py).
ACCEPTED_SINCE_ISSUE_16 = ("missing_columns.csv", "unknown_trade.csv")


def test_the_corpus_has_every_file_named_in_the_issue():
    assert sorted(p.name for p in BAD.iterdir()) == sorted([*BAD_FILES, *ACCEPTED_SINCE_ISSUE_16])


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_refused_with_row_and_field_and_leaves_the_database_alone(district, cli, name):
    url = database_url(district)
    assert cli(url, "ingest", "shops", GOOD_SHOPS).exit_code == 0
    before = snapshot(district)
    result = cli(url, "ingest", "shops", BAD / name)
    assert result.exit_code == 1, result.output
    assert BAD_FILES[name] in result.stderr
    assert snapshot(district) == before


@pytest.mark.parametrize("name", ["duplicate_ids.csv", "truncated.csv"])
def test_dry_run_of_a_bad_file_also_exits_1(district, cli, name):
    result = cli(database_url(district), "ingest", "shops", BAD / name, "--dry-run")
    assert result.exit_code == 1
    assert snapshot(district)[0] == []


# --- good files -----------------------------------------------------------------


def test_ingest_opens_shops_places_them_and_a_second_run_changes_nothing(district, cli):
    url = database_url(district)
    first = cli(url, "ingest", "shops", GOOD_SHOPS)
    assert first.exit_code == 0, first.stderr
    assert "20 rows, 20 valid, 0 refused; written: 20 opened" in first.stdout
    shops = stored_shops(district)
    assert len(shops) == 20 and shops["grid_code"].notna().all()
    with transaction(district) as session:
        assert sum(session.scalars(select(Grid.n_shops)).all()) == 20
    before = snapshot(district)
    again = cli(url, "ingest", "shops", GOOD_SHOPS)
    assert again.exit_code == 0
    assert "0 opened, 0 reopened, 0 updated, 0 closed, 20 unchanged" in again.stdout
    assert snapshot(district) == before


def test_a_changed_register_updates_opens_closes_and_says_how_many(district, cli, tmp_path):
    url = database_url(district)
    cli(url, "ingest", "shops", GOOD_SHOPS)
    frame = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)
    frame.loc[0, "name"] = "黄记超市(新址)"  # renamed
    frame = frame.drop(index=[5, 6])  # closed
    extra = pd.read_csv(DEMO / "shops.csv", dtype=str, keep_default_na=False).iloc[[100]]
    changed = tmp_path / "register.csv"
    pd.concat([frame, extra]).to_csv(changed, index=False)
    result = cli(url, "ingest", "shops", changed, "--json")
    assert result.exit_code == 0
    counts = json.loads(result.stdout)["counts"]
    assert (counts["opened"], counts["updated"], counts["closed"], counts["unchanged"]) == (1, 1, 2, 17)
    shops = stored_shops(district).set_index("shop_code")
    assert shops.loc["YJ0001", "name"] == "黄记超市(新址)"
    assert sorted(shops.index[shops["closed_at"].notna()]) == ["YJ0006", "YJ0007"]
    # The closed shops come back when the full register returns.
    back = cli(url, "ingest", "shops", GOOD_SHOPS, "--partial")
    assert "2 reopened" in back.stdout and "0 closed" in back.stdout


def test_partial_register_never_closes(district, cli, tmp_path):
    url = database_url(district)
    cli(url, "ingest", "shops", GOOD_SHOPS)
    few = tmp_path / "few.csv"
    pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False).head(3).to_csv(few, index=False)
    result = cli(url, "ingest", "shops", few, "--partial")
    assert result.exit_code == 0 and "0 closed, 3 unchanged" in result.stdout
    assert stored_shops(district)["closed_at"].isna().all()


def test_dry_run_counts_but_writes_nothing(district, cli):
    result = cli(database_url(district), "ingest", "shops", GOOD_SHOPS, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.startswith("dry run: ") and "would write: 20 opened" in result.stdout
    assert snapshot(district)[0] == []


def test_skip_invalid_writes_valid_rows_and_a_csv_of_the_refused(district, cli, tmp_path):
    rejected = tmp_path / "refused.csv"
    result = cli(database_url(district), "ingest", "shops", BAD / "duplicate_ids.csv", "--skip-invalid",
                 "--rejected", rejected)
    assert result.exit_code == 0
    assert sorted(stored_shops(district)["shop_code"]) == ["YJ0001", "YJ0003", "YJ0005"]
    assert rejected.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    refused = pd.read_csv(rejected, dtype=str, encoding="utf-8-sig")
    assert refused["row"].tolist() == ["3", "5"]
    assert refused["reason"].str.contains("shop_id: 'YJ0002' is repeated").all()
    assert "name" in refused.columns  # the rows come back as they were, to fix and re-send


def test_without_grids_shops_are_stored_without_grid_and_reported(engine, cli):
    result = cli(database_url(engine), "ingest", "shops", GOOD_SHOPS)
    assert result.exit_code == 0
    assert "20 without grid" in result.stdout
    assert "no grids yet" in result.stderr
    assert "not checked against the district" in result.stderr
    assert stored_shops(engine)["grid_code"].isna().all()
    again = cli(database_url(engine), "ingest", "shops", GOOD_SHOPS)
    assert "0 updated, 0 closed, 20 unchanged, 20 without grid" in again.stdout  # nothing changed
    seed_district(engine)  # grids appear: the next ingest places the gridless shops
    placed = cli(database_url(engine), "ingest", "shops", GOOD_SHOPS)
    assert "20 updated, 0 closed, 0 unchanged, 0 without grid" in placed.stdout
    assert stored_shops(engine)["grid_code"].notna().all()


def _good() -> pd.DataFrame:
    return pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)


def _as_points(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"].astype(float), frame["lat"].astype(float)), crs=4326,
    )


def _shapefile_zip(frame: gpd.GeoDataFrame, folder: Path) -> bytes:
    frame.to_file(folder / "shops.shp", engine="pyogrio")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.glob("shops.*"):
            archive.write(part, part.name)
    return buffer.getvalue()


def _xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    numeric = frame.assign(lon=frame["lon"].astype(float), lat=frame["lat"].astype(float))
    numeric.rename(columns={"shop_id": "商户编号", "name": "店名", "trade": "行业", "lon": "经度",
                            "lat": "纬度"}).to_excel(buffer, index=False)
    return buffer.getvalue()


def _upload(kind: str, tmp_path: Path) -> tuple[bytes, str]:
    frame = _good()
    if kind == "csv-utf8-bom":
        return frame.to_csv(index=False).encode("utf-8-sig"), "shops.csv"
    if kind == "csv-gbk":
        chinese = frame.rename(columns={"lon": "经度", "lat": "纬度", "name": "商户名称", "trade": "行业"})
        chinese["行业"] = chinese["行业"].replace({"catering": "餐饮", "convenience": "便利店"})
        return chinese.to_csv(index=False).encode("gbk"), "商户.csv"
    if kind == "xlsx":
        return _xlsx(frame), "shops.xlsx"
    if kind == "geojson":
        return _as_points(frame).to_json(ensure_ascii=False).encode(), "shops.geojson"
    if kind == "gpkg":
        _as_points(frame).to_file(tmp_path / "s.gpkg", engine="pyogrio")
        return (tmp_path / "s.gpkg").read_bytes(), "shops.gpkg"
    if kind == "shp-zip":
        return _shapefile_zip(_as_points(frame).to_crs(4549), tmp_path), "shops.zip"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["csv-utf8-bom", "csv-gbk", "xlsx", "geojson", "gpkg", "shp-zip"])
def test_every_format_from_memory_gives_the_same_shops(district, tmp_path, kind):
    data, name = _upload(kind, tmp_path)
    report = ingest_shops(district, data, name=name, now=NOW)
    assert not report.problems, report.problem_lines()
    assert report.counts["opened"] == 20 and report.counts["without_grid"] == 0
    again = ingest_shops(district, _upload("csv-utf8-bom", tmp_path)[0], name="shops.csv", now=NOW)
    assert again.counts["unchanged"] == 20, again.counts  # same ids, same places, whatever the format


def test_a_shapefile_is_read_from_its_shp_path_with_siblings(district, tmp_path):
    _as_points(_good()).to_file(tmp_path / "shops.shp", engine="pyogrio")
    report = ingest_shops(district, tmp_path / "shops.shp", now=NOW)
    assert report.counts["opened"] == 20


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_offset_coordinates_are_converted_when_told(district, cli, tmp_path, system):
    frame = _good()
    forward = wgs84_to_gcj02 if system == "gcj02" else wgs84_to_bd09
    lon, lat = forward(frame["lon"].astype(float), frame["lat"].astype(float))
    frame["lon"], frame["lat"] = [f"{v:.7f}" for v in lon], [f"{v:.7f}" for v in lat]
    path = tmp_path / f"{system}.csv"
    frame.to_csv(path, index=False)
    url = database_url(district)
    refused = cli(url, "ingest", "shops", path)
    assert refused.exit_code == 1 and "outside the district" in refused.stderr
    if system == "gcj02":
        assert "give --coords gcj02" in refused.stderr
    result = cli(url, "ingest", "shops", path, "--coords", system)
    assert result.exit_code == 0, result.stderr
    assert f"converted from {system.upper()} to WGS84" in result.stderr
    stored = gpd.GeoSeries(stored_shops(district).set_index("shop_code")["geometry"], crs=4326).to_crs(4549)
    truth = _as_points(_good()).set_index("shop_id").geometry.to_crs(4549)
    assert stored.distance(truth.loc[stored.index]).max() < 0.5


def test_projected_input_needs_and_takes_crs(district, cli, tmp_path):
    points = _as_points(_good()).to_crs(4549)
    frame = points.drop(columns="geometry").assign(x=points.geometry.x.round(3), y=points.geometry.y.round(3))
    path = tmp_path / "projected.csv"
    frame.to_csv(path, index=False)
    url = database_url(district)
    assert cli(url, "ingest", "shops", path).exit_code == 1
    result = cli(url, "ingest", "shops", path, "--crs", "EPSG:4549")
    assert result.exit_code == 0 and "20 opened" in result.stdout


def test_ids_are_derived_from_name_and_place_when_the_file_has_none(district, tmp_path):
    frame = _good().drop(columns=["shop_id"])
    data = frame.to_csv(index=False).encode()
    report = ingest_shops(district, data, name="noid.csv", now=NOW)
    assert report.counts["opened"] == 20
    expected = derived_shop_id(frame.loc[0, "name"], float(frame.loc[0, "lon"]), float(frame.loc[0, "lat"]))
    assert expected in set(stored_shops(district)["shop_code"])
    assert ingest_shops(district, data, name="noid.csv", now=NOW).counts["unchanged"] == 20


def test_a_shop_already_stored_under_another_id_is_a_duplicate(district):
    ingest_shops(district, GOOD_SHOPS, now=NOW)
    frame = _good().head(2)
    frame.loc[1, "shop_id"] = "NEW-1"
    report = ingest_shops(district, frame.to_csv(index=False).encode(), name="dup.csv",
                          close_missing=False, now=NOW)
    assert report.refused
    assert report.problem_lines() == [
        "dup.csv row 3 field shop_id: 'NEW-1' duplicates stored shop 'YJ0002' (same name within 1 m); "
        "use that id"
    ]


def test_badges_in_the_register_are_awarded_and_revoked(district):
    frame = _good()
    frame.loc[0, "badges"] = "放心店、示范户"
    ingest_shops(district, frame.to_csv(index=False).encode(), name="b.csv", now=NOW)
    frame.loc[0, "badges"] = "model_shop"
    report = ingest_shops(district, frame.to_csv(index=False).encode(), name="b.csv", now=NOW)
    assert report.counts["badges_revoked"] == 1 and report.counts["badges_awarded"] == 0


def test_user_supplied_virtual_paths_and_urls_never_reach_gdal():
    for name in ["/vsicurl/http://example.com/x.gpkg", "https://example.com/a.geojson",
                 "/vsizip//etc/passwd.zip"]:
        with pytest.raises(InputFileError, match="virtual paths and URLs are not accepted"):
            read_bytes(b"SQLite format 3\x00", name)
    with pytest.raises(TypeError):
        ingest_shops(None, "/vsicurl/http://example.com/x.gpkg")  # type: ignore[arg-type]


def test_a_zip_with_anything_but_a_shapefile_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.vrt", "<OGRVRTDataSource/>")
    with pytest.raises(InputFileError, match="only the parts of one Shapefile"):
        read_bytes(buffer.getvalue(), "upload.zip")
