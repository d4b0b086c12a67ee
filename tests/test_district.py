"""linpu district import: a district's boundary and streets from its files or an OSM extract."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import select

from dashboard.deck import district_deck
from dashboard.maps import grids_map, leader_map
from geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from geo.district import HIGHWAY_CLASSES
from governance.db import transaction
from governance.models import DistrictFeature
from pipelines.district import DistrictRefused, import_district
from pipelines.ingest import ingest_shops
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import DEMO, database_url

cli = shop_tests.cli
osmium = pytest.importorskip("osmium")
from osmium.osm.mutable import Node, Relation, Way  # noqa: E402 - after the skip

#: The demo district's box: the demo register's shops lie inside it.
WEST, SOUTH, EAST, NORTH = 118.8945, 25.1156, 118.9058, 25.1243
MID_X, MID_Y = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
RELATION = 4242
#: highway tag -> where its way runs (it is clipped to the box) and the class it must get.
HIGHWAYS = {
    "primary": ([(WEST - 0.01, MID_Y), (EAST + 0.01, MID_Y)], "main"),
    "secondary_link": ([(MID_X, SOUTH + 0.001), (MID_X, NORTH - 0.001)], "main"),
    "residential": ([(WEST + 0.001, SOUTH + 0.002), (EAST - 0.001, SOUTH + 0.002)], "street"),
    "footway": ([(WEST + 0.002, NORTH - 0.002), (MID_X, NORTH - 0.002)], "lane"),
    "cycleway": ([(WEST + 0.003, SOUTH + 0.003), (MID_X, SOUTH + 0.003)], None),
    "living_street": ([(EAST + 0.02, NORTH + 0.02), (EAST + 0.03, NORTH + 0.02)], None),  # outside
}


def write_osm(path, highways=None):
    """An extract with a boundary relation (one closed way) and highways of several classes."""
    highways = HIGHWAYS if highways is None else highways
    meta = {"version": 1, "changeset": 1, "timestamp": "2026-01-01T00:00:00Z", "uid": 1, "user": "t"}
    writer = osmium.SimpleWriter(str(path))
    points = [(WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH)]
    for line, _ in highways.values():
        points.extend(line)
    for number, location in enumerate(points, start=1):
        writer.add_node(Node(id=number, location=location, tags={}, **meta))
    writer.add_way(Way(id=1, nodes=[1, 2, 3, 4, 1], tags={}, **meta))
    for offset, highway in enumerate(highways):
        first = 5 + 2 * offset
        writer.add_way(Way(id=10 + offset, nodes=[first, first + 1],
                           tags={"highway": highway, "name": f"{highway}路"}, **meta))
    writer.add_relation(Relation(id=RELATION, members=[("w", 1, "outer")], **meta, tags={
        "type": "boundary", "boundary": "administrative", "admin_level": "9", "name": "山腰街道"}))
    writer.close()
    return path


def register(engine, n: int = 30) -> None:
    shops = pd.read_csv(DEMO / "shops.csv", dtype=str, keep_default_na=False).head(n)
    ingest_shops(engine, shops.to_csv(index=False).encode(), name="shops.csv")


def stored(engine) -> list[tuple[str, str, str | None, shapely.Geometry]]:
    with transaction(engine) as session:
        rows = session.execute(select(DistrictFeature.kind, DistrictFeature.name, DistrictFeature.street_class,
                                      DistrictFeature.geometry).order_by(DistrictFeature.id)).all()
    return [(kind, name, None if c is None else str(getattr(c, "value", c)), g) for kind, name, c, g in rows]


def box_geojson(path, polygon, **properties):
    gpd.GeoDataFrame([properties], geometry=[polygon], crs=4326).to_file(path, driver="GeoJSON")
    return path


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm"])
def test_osm_extract_gives_the_boundary_and_classed_streets_clipped_to_it(engine, cli, tmp_path, suffix):
    extract = write_osm(tmp_path / f"quanzhou{suffix}")
    url = database_url(engine)
    result = cli(url, "district", "import", extract, "--layer", "boundary", "--osm-relation", RELATION)
    assert result.exit_code == 0, result.stderr
    result = cli(url, "district", "import", extract, "--layer", "streets")
    assert result.exit_code == 0, result.stderr
    rows = stored(engine)
    boundaries = [g for kind, _, _, g in rows if kind == "boundary"]
    assert [name for kind, name, _, _ in rows if kind == "boundary"] == ["山腰街道"]
    assert boundaries[0].equals(shapely.box(WEST, SOUTH, EAST, NORTH).normalize()) or \
        boundaries[0].symmetric_difference(shapely.box(WEST, SOUTH, EAST, NORTH)).area < 1e-12
    streets = {name: (cls, g) for kind, name, cls, g in rows if kind == "street"}
    expected = {f"{h}路": cls for h, (_, cls) in HIGHWAYS.items() if cls is not None}
    assert {name: cls for name, (cls, _) in streets.items()} == expected  # cycleway and outside road dropped
    main_road = streets["primary路"][1]
    assert main_road.bounds[0] == pytest.approx(WEST) and main_road.bounds[2] == pytest.approx(EAST)
    assert "line parts kept (lane 1, main 2, street 1)" in result.stderr


def test_import_again_replaces_the_layer_and_leaves_the_other(engine, cli, tmp_path):
    extract = write_osm(tmp_path / "x.osm.pbf")
    url = database_url(engine)
    cli(url, "district", "import", extract, "--layer", "boundary", "--osm-relation", RELATION)
    cli(url, "district", "import", extract, "--layer", "streets")
    lanes = box_geojson(tmp_path / "lanes.geojson", shapely.LineString([(WEST + 0.001, MID_Y + 0.001),
                                                                        (MID_X, MID_Y + 0.001)]),
                        名称="古井巷", 道路等级="巷")
    assert cli(url, "district", "import", lanes, "--layer", "streets").exit_code == 0
    rows = stored(engine)
    assert [(k, n, c) for k, n, c, _ in rows] == [("boundary", "山腰街道", None), ("street", "古井巷", "lane")]


CORNERS = [(WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH)]


def _kml(path, corners):
    """A KML document as a map app exports it: a folder, a styled placemark, lon,lat,alt triples."""
    ring = " ".join(f"{x:.9f},{y:.9f},0" for x, y in [*corners, corners[0]])
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>街区</name><Folder>
  <Placemark><name>永嘉国潮街区</name><styleUrl>#red</styleUrl>
    <Polygon><outerBoundaryIs><LinearRing><coordinates>
      {ring}
    </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder></Document></kml>""", encoding="utf-8")
    return path


def _boundary_file(tmp_path, form: str):
    """The district box written as ``form``; the file and the options ``district import`` needs."""
    box = shapely.Polygon(CORNERS)
    frame = gpd.GeoDataFrame({"name": ["永嘉国潮街区"]}, geometry=[box], crs=4326)
    if form == "geojson-gcj02":
        x, y = wgs84_to_gcj02(*zip(*CORNERS, strict=True))
        return box_geojson(tmp_path / "amap.geojson", shapely.Polygon(zip(x, y, strict=True)),
                           name="永嘉国潮街区"), ["--coords", "gcj02"], "converted from GCJ02 to WGS84"
    if form == "geojson-bd09":
        x, y = wgs84_to_bd09(*zip(*CORNERS, strict=True))
        return box_geojson(tmp_path / "baidu.geojson", shapely.Polygon(zip(x, y, strict=True)),
                           name="永嘉国潮街区"), ["--coords", "bd09"], "converted from BD09 to WGS84"
    if form == "shp":
        frame.to_file(tmp_path / "boundary.shp", driver="ESRI Shapefile", encoding="utf-8")
        return tmp_path / "boundary.shp", [], None
    if form == "kml":
        return _kml(tmp_path / "boundary.kml", CORNERS), [], None
    if form == "gpkg-4549":  # CGCS2000 Gauss-Kruger CM 120E, declared in the file
        frame.to_crs(4549).to_file(tmp_path / "boundary.gpkg", driver="GPKG")
        return tmp_path / "boundary.gpkg", [], "coordinates reprojected from EPSG:4549 to EPSG:4326"
    # A Shapefile in EPSG:4549 whose .prj was lost: --crs says what the numbers are.
    frame.to_crs(4549).to_file(tmp_path / "survey.shp", driver="ESRI Shapefile", encoding="utf-8")
    (tmp_path / "survey.prj").unlink()
    return tmp_path / "survey.shp", ["--crs", "EPSG:4549"], "coordinates reprojected from EPSG:4549 to EPSG:4326"


@pytest.mark.parametrize("form", ["geojson-gcj02", "geojson-bd09", "shp", "kml", "gpkg-4549", "shp-4549-crs"])
def test_a_boundary_in_every_format_and_crs_is_stored_in_wgs84(engine, cli, tmp_path, form):
    path, options, note = _boundary_file(tmp_path, form)
    result = cli(database_url(engine), "district", "import", path, "--layer", "boundary", *options)
    assert result.exit_code == 0, result.stderr
    if note:
        assert note in result.stderr
    (kind, name, _, boundary), = stored(engine)
    assert (kind, name) == ("boundary", "永嘉国潮街区")
    corners = shapely.get_coordinates(shapely.Polygon(boundary.exterior).normalize())[:4]
    expected = shapely.get_coordinates(shapely.Polygon(CORNERS).normalize())[:4]
    assert corners == pytest.approx(expected, abs=1e-7)


def test_without_its_prj_a_projected_shapefile_is_refused_naming_crs(engine, cli, tmp_path):
    path, _, _ = _boundary_file(tmp_path, "shp-4549-crs")
    result = cli(database_url(engine), "district", "import", path, "--layer", "boundary")
    assert result.exit_code == 1 and "--crs" in result.stderr
    assert stored(engine) == []


def test_a_streets_shapefile_keeps_its_class_column_cut_to_ten_bytes(engine, cli, tmp_path):
    url = database_url(engine)
    boundary, _, _ = _boundary_file(tmp_path, "kml")
    assert cli(url, "district", "import", boundary, "--layer", "boundary").exit_code == 0
    lines = [shapely.LineString([(WEST + 0.001, MID_Y), (EAST - 0.001, MID_Y)]),
             shapely.LineString([(MID_X, SOUTH + 0.001), (MID_X, NORTH - 0.001)])]
    with pytest.warns(UserWarning, match="truncated"):  # DBF: street_class becomes street_cla
        gpd.GeoDataFrame({"name": ["泉港大道", "古井巷"], "street_class": ["main", "lane"]}, geometry=lines,
                         crs=4326).to_file(tmp_path / "streets.shp", driver="ESRI Shapefile", encoding="utf-8")
    result = cli(url, "district", "import", tmp_path / "streets.shp", "--layer", "streets")
    assert result.exit_code == 0, result.stderr
    assert [(n, c) for k, n, c, _ in stored(engine) if k == "street"] == [("泉港大道", "main"), ("古井巷", "lane")]


#: The highway table of ARCHITECTURE.md "District layers", row by row; other values are not streets.
HIGHWAY_TABLE = {
    "motorway": "main", "trunk": "main", "primary": "main", "secondary": "main",
    "motorway_link": "main", "trunk_link": "main", "primary_link": "main", "secondary_link": "main",
    "tertiary": "street", "tertiary_link": "street", "residential": "street", "unclassified": "street",
    "service": "lane", "footway": "lane", "pedestrian": "lane", "living_street": "lane",
}
NOT_STREETS = ("cycleway", "path", "steps", "track", "construction", "bridleway")


def test_every_highway_value_of_an_extract_gets_the_class_of_the_table(engine, cli, tmp_path):
    assert HIGHWAY_CLASSES == HIGHWAY_TABLE  # a new row needs its line in ARCHITECTURE.md and here
    values = [*HIGHWAY_TABLE, *NOT_STREETS]
    step = (NORTH - SOUTH) / (len(values) + 1)
    highways = {v: ([(WEST + 0.001, SOUTH + step * (i + 1)), (EAST - 0.001, SOUTH + step * (i + 1))], None)
                for i, v in enumerate(values)}
    extract = write_osm(tmp_path / "all.osm.pbf", highways)
    url = database_url(engine)
    assert cli(url, "district", "import", extract, "--layer", "boundary", "--osm-relation", RELATION).exit_code == 0
    result = cli(url, "district", "import", extract, "--layer", "streets")
    assert result.exit_code == 0, result.stderr
    classes = {name.removesuffix("路"): cls for kind, name, cls, _ in stored(engine) if kind == "street"}
    assert classes == HIGHWAY_TABLE


def test_streets_without_a_stored_boundary_are_refused(engine, cli, tmp_path):
    extract = write_osm(tmp_path / "x.osm.pbf")
    result = cli(database_url(engine), "district", "import", extract, "--layer", "streets")
    assert result.exit_code == 1
    assert "x.osm.pbf 第 1 个要素 字段 --layer：数据库中尚无街区边界" in result.stderr
    result = cli(database_url(engine), "district", "import", extract, "--layer", "boundary")
    assert result.exit_code == 1
    assert "x.osm.pbf 第 1 个要素 字段 --osm-relation：OSM 数据包含许多区域" in result.stderr
    result = cli(database_url(engine), "district", "import", extract, "--layer", "boundary", "--osm-relation", 7)
    assert "字段 --osm-relation：该数据中没有编号为 7 的多边形关系" in result.stderr
    assert stored(engine) == []


def test_a_boundary_elsewhere_is_refused_naming_both(engine, cli, tmp_path, monkeypatch):
    url = database_url(engine)
    here = box_geojson(tmp_path / "here.geojson", shapely.box(WEST, SOUTH, EAST, NORTH), name="山腰")
    assert cli(url, "district", "import", here, "--layer", "boundary").exit_code == 0
    xiamen = box_geojson(tmp_path / "xiamen.geojson", shapely.box(118.08, 24.47, 118.09, 24.48), name="厦门")
    monkeypatch.setenv("LINPU_LANGUAGE", "en")
    result = cli(url, "district", "import", xiamen, "--layer", "boundary")
    assert result.exit_code == 1
    assert "xiamen.geojson feature 1 field geometry: the boundary (118.08000, 24.47000" in result.stderr
    assert f"does not overlap the district stored in the database ({WEST}, {SOUTH}, {EAST}, {NORTH})" \
        in result.stderr
    assert [name for _, name, _, _ in stored(engine)] == ["山腰"]


def test_unknown_layer_and_bad_rows_are_refused_writing_nothing(engine, cli, tmp_path):
    here = box_geojson(tmp_path / "here.geojson", shapely.box(WEST, SOUTH, EAST, NORTH))
    with pytest.raises(DistrictRefused) as refused:
        import_district(engine, here, layer="zones", language="en")
    assert str(refused.value) == "here.geojson feature 1 field --layer: unknown layer 'zones'; " \
                                 "use one of boundary, streets, frontage, stalls, service_points"
    assert cli(database_url(engine), "district", "import", here, "--layer", "zones").exit_code == 2
    import_district(engine, here, layer="boundary")
    frame = gpd.GeoDataFrame({"name": ["a", "b"], "class": ["main", "高速"]}, crs=4326, geometry=[
        shapely.LineString([(WEST, MID_Y), (EAST, MID_Y)]), shapely.LineString([(MID_X, SOUTH), (MID_X, NORTH)])])
    frame.to_file(tmp_path / "roads.gpkg", driver="GPKG")
    with pytest.raises(DistrictRefused) as refused:
        import_district(engine, tmp_path / "roads.gpkg", layer="streets", language="zh")
    assert str(refused.value).startswith("roads.gpkg 第 2 个要素 字段 class：未知道路等级 '高速'")
    points = box_geojson(tmp_path / "points.geojson", shapely.Point(MID_X, MID_Y))
    with pytest.raises(DistrictRefused, match="points.geojson feature 1 field geometry: is a Point"):
        import_district(engine, points, layer="boundary", language="en")
    assert [kind for kind, _, _, _ in stored(engine)] == ["boundary"]


def test_grids_save_reports_main_road_straddling_once_streets_are_stored(engine, cli, tmp_path):
    register(engine)
    url = database_url(engine)
    before = json.loads(cli(url, "grids", "save", "--dry-run", "--json").stdout)
    assert before["quality"]["straddling_main_road_share"] is None
    extract = write_osm(tmp_path / "x.osm.pbf")
    cli(url, "district", "import", extract, "--layer", "boundary", "--osm-relation", RELATION)
    cli(url, "district", "import", extract, "--layer", "streets")
    after = json.loads(cli(url, "grids", "save", "--dry-run", "--json").stdout)
    assert after["quality"]["straddling_main_road_share"] is not None


def test_every_role_map_draws_the_imported_boundary_and_streets(engine, tmp_path):
    from governance.queries import district_features

    extract = write_osm(tmp_path / "x.osm.pbf")
    import_district(engine, extract, layer="boundary", osm_relation=RELATION)
    import_district(engine, extract, layer="streets")
    with transaction(engine) as session:
        features = district_features(session)
    grid = gpd.GeoDataFrame({"code": ["G001"], "n_shops": [10], "worst_state": ["warning"], "open": [1],
                             "overdue": [0], "warning": [1]},
                            geometry=[shapely.box(WEST, SOUTH, MID_X, MID_Y)], crs=4326)
    deck = json.loads(district_deck(grid, gpd.GeoDataFrame(geometry=[], crs=4326), pd.DataFrame(), features,
                                    language="zh", show_heat=False, show_hotspots=False,
                                    show_cases=False).to_json())
    ids = [layer["id"] for layer in deck["layers"]]
    assert ids[:2] == ["district-boundary", "streets"]
    empty = gpd.GeoDataFrame({"name": [], "shop_code": []}, geometry=[], crs=4326)
    html = leader_map(grid, grid[["code", "open", "overdue", "worst_state"]], empty,
                      gpd.GeoDataFrame(geometry=[], crs=4326), features).get_root().render()
    assert '"dashArray": "8 6"' in html  # the dashed outline
    assert json.dumps("primary路") in html  # folium writes the streets' names escaped
    analyst = grids_map(grid, empty, min_size=8, max_size=12, features=features).get_root().render()
    assert '"dashArray": "8 6"' in analyst and json.dumps("primary路") in analyst


def test_grids_build_reads_a_gbk_register_with_chinese_headers_in_gcj02(tmp_path, cli):
    shops = pd.read_csv(DEMO / "shops.csv", dtype=str).head(40)
    lon, lat = wgs84_to_gcj02(shops["lon"].astype(float), shops["lat"].astype(float))
    register = pd.DataFrame({"店铺编号": shops["shop_id"], "店名": shops["name"], "经度": lon, "纬度": lat})
    path = tmp_path / "商户名册.csv"
    path.write_bytes(register.to_csv(index=False).encode("gbk"))
    out = tmp_path / "grids.gpkg"
    result = cli("sqlite://", "grids", "build", "--shops", path, "--coords", "gcj02", "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "converted from GCJ02 to WGS84" in result.stderr
    placed = gpd.read_file(out, layer="shops")
    assert placed["店名"].tolist() == shops["name"].tolist()
    assert placed.geometry.x.to_numpy() == pytest.approx(shops["lon"].astype(float).to_numpy(), abs=1e-7)
    assert placed["grid_code"].notna().all()
