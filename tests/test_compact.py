"""The merchant–resident compact: frontage zones, stall zones with hours, service points,
and road-occupation findings checked against the stall zones when filed."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import select

from governance.compact import compact_layer, nearest_service_points
from governance.db import transaction
from governance.facts import CaseFacts
from governance.filing import file_cases
from governance.filters import CaseFilter
from governance.loop_summary import grid_loop_summary
from governance.models import Case, DistrictFeature
from governance.queries import cases_frame, open_shops
from governance.testing import IN_G001, IN_G002, OUTSIDE, seed_small_district
from governance.workflow import file_case
from pipelines.district import DistrictRefused, import_district
from tests.test_ingest_shops import cli, database_url  # noqa: F401 - cli is a fixture

#: 19:00 and 12:00 China time on a Wednesday.
EVENING = datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
NOON = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
#: A night-market stall zone in G001, open 18:00-23:00; an all-day one in G002 without stated hours.
NIGHT_MARKET = shapely.box(118.901, 25.101, 118.903, 25.103)
IN_NIGHT_MARKET = (118.902, 25.102)
ALL_DAY = shapely.box(118.911, 25.101, 118.913, 25.103)
IN_ALL_DAY = (118.912, 25.102)
#: A street 30 m south of each test shop (the shops stand at lat 25.105).
STREET = shapely.LineString([(118.90, 25.10473), (118.92, 25.10473)])


def write(tmp_path, name, rows: list[dict], geometries) -> str:
    path = tmp_path / name
    gpd.GeoDataFrame(rows, geometry=list(geometries), crs=4326).to_file(path, driver="GeoJSON")
    return path


@pytest.fixture
def world(engine, tmp_path):
    district = seed_small_district(engine, now=EVENING)
    import_district(engine, write(tmp_path, "stalls.geojson", [
        {"名称": "夜市摊区", "营业时间": "Mo-Su 18:00-23:00"}, {"名称": "便民摊区", "营业时间": None},
    ], [NIGHT_MARKET, ALL_DAY]), layer="stalls")
    import_district(engine, write(tmp_path, "points.geojson", [
        {"name": "新时代文明实践站", "opening_hours": "Mo-Fr 08:30-17:30"},
        {"name": "户外劳动者驿站", "opening_hours": "24/7"},
        {"name": "党群服务中心", "opening_hours": "Mo-Su 09:00-21:00"},
    ], [shapely.Point(118.9052, 25.1052), shapely.Point(118.915, 25.105), shapely.Point(118.93, 25.105)]),
        layer="service_points")
    with transaction(engine) as session:
        session.add(DistrictFeature(kind="street", name="街", street_class="street", geometry=STREET))
    viewers = {name: district.viewer(engine, name) for name in ("leader1", "leader2", "supervisor")}
    return engine, district, viewers


def stored(engine, kind):
    with transaction(engine) as session:
        return session.execute(select(DistrictFeature.name, DistrictFeature.hours, DistrictFeature.shop_code)
                               .where(DistrictFeature.kind == kind).order_by(DistrictFeature.id)).all()


def file_road(engine, viewer, point, at, *, category="road_occupation"):
    with transaction(engine) as session:
        case = file_case(session, viewer, kind="patrol", category=category, severity="low", title="占道摆摊",
                         lon=point[0], lat=point[1], now=at)
        return case.id


def occupation_of(engine, case_id):
    with transaction(engine) as session:
        value = session.get(Case, case_id).occupation
        return None if value is None else str(value)


def test_the_cli_imports_each_compact_layer_and_replaces_only_that_one(world, cli, tmp_path):  # noqa: F811
    engine, _, _ = world
    frontage = write(tmp_path, "frontage.geojson", [{"店铺编号": "S-G001", "name": "一号店门前"}],
                     [shapely.box(118.9045, 25.1045, 118.9055, 25.105)])
    result = cli(database_url(engine), "district", "import", frontage, "--layer", "frontage")
    assert result.exit_code == 0, result.stderr
    assert "layer frontage replaced by 1 features" in result.stdout
    assert stored(engine, "frontage") == [("一号店门前", None, "S-G001")]
    assert stored(engine, "stall") == [("夜市摊区", "Mo-Su 18:00-23:00", None), ("便民摊区", None, None)]
    one = write(tmp_path, "one.geojson", [{"name": "新夜市", "hours": "Fr,Sa 19:00-24:00"}], [NIGHT_MARKET])
    assert cli(database_url(engine), "district", "import", one, "--layer", "stalls").exit_code == 0
    assert stored(engine, "stall") == [("新夜市", "Fr,Sa 19:00-24:00", None)]
    assert [name for name, _, _ in stored(engine, "service_point")] == ["新时代文明实践站", "户外劳动者驿站",
                                                                         "党群服务中心"]
    assert stored(engine, "frontage") == [("一号店门前", None, "S-G001")]


def test_the_compact_layers_come_from_shapefiles_and_geopackages_too(world, cli, tmp_path):  # noqa: F811
    engine, _, v = world
    url = database_url(engine)
    # As an office's GIS saves it on Chinese Windows: GBK, Chinese field names (8 bytes in GBK: they fit DBF).
    gpd.GeoDataFrame({"名称": ["周末夜市", "便民摊区"], "营业时间": ["Fr,Sa 19:00-24:00", ""]},
                     geometry=[NIGHT_MARKET, ALL_DAY], crs=4326).to_file(
        tmp_path / "stalls.shp", driver="ESRI Shapefile", encoding="GBK")
    result = cli(url, "district", "import", tmp_path / "stalls.shp", "--layer", "stalls")
    assert result.exit_code == 0, result.stderr
    assert stored(engine, "stall") == [("周末夜市", "Fr,Sa 19:00-24:00", None), ("便民摊区", None, None)]
    # The hours read from the file decide: a Wednesday evening is outside the weekend market's hours.
    assert occupation_of(engine, file_road(engine, v["leader1"], IN_NIGHT_MARKET, EVENING)) == "outside_hours"
    # DBF cuts field names to 10 bytes: opening_hours arrives as opening_ho and must still be read.
    with pytest.warns(UserWarning, match="truncated"):
        gpd.GeoDataFrame({"name": ["夜市摊区"], "opening_hours": ["Mo-Su 18:00-23:00"]}, geometry=[NIGHT_MARKET],
                         crs=4326).to_file(tmp_path / "night.shp", driver="ESRI Shapefile", encoding="utf-8")
    assert cli(url, "district", "import", tmp_path / "night.shp", "--layer", "stalls").exit_code == 0
    assert stored(engine, "stall") == [("夜市摊区", "Mo-Su 18:00-23:00", None)]
    # Service points in a GeoPackage in the local metric CRS (CGCS2000 / 3-degree GK CM 120E).
    points = [shapely.Point(118.9052, 25.1052), shapely.Point(118.915, 25.105)]
    gpd.GeoDataFrame({"name": ["党群服务中心", "户外劳动者驿站"], "opening_hours": ["Mo-Su 09:00-21:00", "24/7"]},
                     geometry=points, crs=4326).to_crs(4549).to_file(tmp_path / "points.gpkg", driver="GPKG")
    result = cli(url, "district", "import", tmp_path / "points.gpkg", "--layer", "service_points")
    assert result.exit_code == 0, result.stderr
    assert "reprojected from EPSG:4549" in result.stderr
    assert stored(engine, "service_point") == [("党群服务中心", "Mo-Su 09:00-21:00", None),
                                               ("户外劳动者驿站", "24/7", None)]
    with transaction(engine) as session:
        back = session.scalars(select(DistrictFeature.geometry).where(DistrictFeature.kind == "service_point")
                               .order_by(DistrictFeature.id)).all()
    assert [(p.x, p.y) for p in back] == [pytest.approx((p.x, p.y), abs=1e-7) for p in points]


def test_bad_hours_an_unknown_shop_or_a_wrong_shape_are_refused_and_nothing_changes(world, cli, tmp_path):  # noqa: F811
    engine, _, _ = world
    before = stored(engine, "stall")
    bad_hours = write(tmp_path, "stalls2.geojson", [{"name": "a", "hours": "Mo-Su 18:00-23:00"},
                                                     {"name": "b", "hours": "晚上六点到十一点"}],
                      [NIGHT_MARKET, ALL_DAY])
    with pytest.raises(DistrictRefused) as refused:
        import_district(engine, bad_hours, layer="stalls", language="en")
    assert str(refused.value).startswith("stalls2.geojson feature 2 field hours: '晚上六点到十一点' is not "
                                         "OpenStreetMap opening_hours")
    result = cli(database_url(engine), "district", "import", bad_hours, "--layer", "stalls")
    assert result.exit_code == 1
    assert "stalls2.geojson 第 2 个要素 字段 hours：'晚上六点到十一点' 不是 OpenStreetMap opening_hours 写法" \
        in result.stderr
    assert stored(engine, "stall") == before
    unknown = write(tmp_path, "f.geojson", [{"shop_code": "S-G001"}, {"shop_code": "S-NONE"}],
                    [shapely.box(118.9045, 25.1045, 118.9055, 25.105)] * 2)
    with pytest.raises(DistrictRefused, match="f.geojson feature 2 field shop_code: no shop 'S-NONE'"):
        import_district(engine, unknown, layer="frontage", language="en")
    no_shop = write(tmp_path, "g.geojson", [{"name": "x"}], [shapely.box(118.9045, 25.1045, 118.9055, 25.105)])
    with pytest.raises(DistrictRefused, match="g.geojson feature 1 field shop_code: missing column"):
        import_district(engine, no_shop, layer="frontage", language="en")
    line = write(tmp_path, "l.geojson", [{"name": "x"}], [STREET])
    with pytest.raises(DistrictRefused, match="l.geojson feature 1 field geometry: is a LineString"):
        import_district(engine, line, layer="service_points", language="en")
    osm = tmp_path / "district.osm"
    osm.write_text("<osm/>")
    with pytest.raises(DistrictRefused, match="district.osm feature 1 field --layer: the stalls layer is read from"):
        import_district(engine, osm, layer="stalls", language="en")
    assert stored(engine, "frontage") == []


def test_a_road_occupation_finding_is_stored_as_permitted_outside_hours_or_outside_any_zone(world):
    engine, _, v = world
    leader1, leader2 = v["leader1"], v["leader2"]
    assert occupation_of(engine, file_road(engine, leader1, IN_NIGHT_MARKET, EVENING)) == "permitted"
    assert occupation_of(engine, file_road(engine, leader1, IN_NIGHT_MARKET, NOON)) == "outside_hours"
    assert occupation_of(engine, file_road(engine, leader1, IN_G001, EVENING)) == "outside_zone"
    assert occupation_of(engine, file_road(engine, leader2, IN_ALL_DAY, NOON)) == "permitted"  # no hours: always
    assert occupation_of(engine, file_road(engine, leader1, IN_NIGHT_MARKET, NOON, category="noise")) is None
    # A file of findings takes the same check, each at its own time.
    rows = pd.DataFrame({
        "kind": "patrol", "category": ["road_occupation", "road_occupation", "road_occupation", "fumes"],
        "severity": "low", "title": "占道",
        "lon": [IN_NIGHT_MARKET[0], IN_NIGHT_MARKET[0], IN_G002[0], IN_NIGHT_MARKET[0]],
        "lat": [IN_NIGHT_MARKET[1], IN_NIGHT_MARKET[1], IN_G002[1], IN_NIGHT_MARKET[1]],
        "created_at": [EVENING, NOON, EVENING, EVENING],
    })
    with transaction(engine) as session:
        filed = file_cases(session, v["supervisor"], rows)
    assert [occupation_of(engine, int(i)) for i in filed.case_ids] == [
        "permitted", "outside_hours", "outside_zone", None]


def test_the_supervisor_filter_and_the_export_select_by_the_check(world, cli, tmp_path):  # noqa: F811
    engine, _, v = world
    ids = {file_road(engine, v["leader1"], IN_NIGHT_MARKET, NOON): "outside_hours",
           file_road(engine, v["leader1"], IN_G001, EVENING): "outside_zone",
           file_road(engine, v["leader1"], IN_NIGHT_MARKET, EVENING): "permitted"}
    file_road(engine, v["leader1"], IN_G001, EVENING, category="noise")
    supervisor = v["supervisor"]
    with transaction(engine) as session:
        picked = cases_frame(session, supervisor, filters=CaseFilter.for_days(occupation=("outside_hours",
                                                                                           "outside_zone")))
        assert sorted(picked["occupation"]) == ["outside_hours", "outside_zone"]
        every = cases_frame(session, supervisor)
        checks = {case_id: None if pd.isna(value) else value
                  for case_id, value in zip(every["case_id"], every["occupation"], strict=True)}
        assert checks == {**ids, max(ids) + 1: None}
        # The in-memory facts answer the same filter as the database does.
        only = CaseFilter.for_days(occupation=("permitted",))
        counted = grid_loop_summary(session, supervisor, filters=only)
        from_facts = grid_loop_summary(session, supervisor, filters=only, facts=CaseFacts.read(session))
        assert counted["total"].tolist() == from_facts["total"].tolist() == [1, 0]
    with pytest.raises(Exception, match="occupation: 'nowhere' is not known"):
        CaseFilter.for_days(occupation=("nowhere",))
    out = tmp_path / "cases"
    result = cli(database_url(engine), "export", "--layer", "cases", "--format", "csv", "--out", out,
                 "--occupation", "outside_zone", "-q")
    assert result.exit_code == 0, result.stderr
    with open(next(out.parent.glob("cases*.csv")) if not out.exists() else
              (out if out.is_file() else next(out.glob("*.csv"))), encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["occupation"] for row in rows] == ["outside_zone"]


def test_frontage_is_generated_towards_the_nearest_street_unless_imported(world, tmp_path):
    engine, _, v = world
    with transaction(engine) as session:
        layer = compact_layer(session, v["leader2"])
    frontage = layer[layer["kind"] == "frontage"]
    assert frontage["shop_code"].tolist() == ["S-G002"] and frontage["generated"].tolist() == [True]
    strip = frontage.geometry.iloc[0]
    assert strip.touches(shapely.Point(IN_G002)) or strip.distance(shapely.Point(IN_G002)) < 1e-9
    assert strip.bounds[1] < IN_G002[1] and strip.bounds[1] > STREET.coords[0][1]  # towards, not past, the street
    # The leader of G002 sees the zones and service points of G002 only.
    assert sorted(layer.loc[layer["kind"] != "frontage", "name"]) == sorted(["户外劳动者驿站", "便民摊区"])
    drawn = shapely.box(118.9045, 25.1045, 118.9055, 25.1049)
    import_district(engine, write(tmp_path, "f.geojson", [{"shop_code": "S-G001"}], [drawn]), layer="frontage")
    with transaction(engine) as session:
        everything = compact_layer(session, v["supervisor"])
    shops = everything[everything["kind"] == "frontage"].set_index("shop_code")
    assert shops.loc["S-G001", "generated"] == False  # noqa: E712 - a numpy bool
    assert shops.loc["S-G001", "geometry"].equals(drawn)
    assert shops.loc["S-G002", "generated"] == True  # noqa: E712


def test_nearest_service_points_come_nearest_first_with_their_hours_and_whether_open(world):
    engine, _, _ = world
    with transaction(engine) as session:
        near = nearest_service_points(session, *IN_G001, limit=2, now=NOON)  # a Wednesday noon
        none = nearest_service_points(session, *OUTSIDE, limit=0)
    assert [(p.name, p.open_now) for p in near] == [("新时代文明实践站", True), ("户外劳动者驿站", True)]
    assert near[0].distance_m == pytest.approx(29, abs=3) and near[0].distance_m < near[1].distance_m
    assert near[0].hours == "Mo-Fr 08:30-17:30"
    assert none == []
    with transaction(engine) as session:
        sunday_night = nearest_service_points(session, *IN_G001, limit=1, now=datetime(2026, 7, 5, 14, tzinfo=UTC))
    assert sunday_night[0].open_now is False


def test_the_leader_map_draws_the_zones_escaped_and_the_card_says_how_the_finding_stood(world, tmp_path):
    from dashboard.cards import card_html, card_items
    from dashboard.deck import district_deck
    from dashboard.frames import case_table, compact_table
    from dashboard.maps import leader_map
    from governance.grids import current_grids
    from governance.loop_summary import grid_loop_summary as summary_of
    from governance.queries import district_features, open_shops

    engine, _, v = world
    payload = '<img src=x onerror="alert(1)">'
    import_district(engine, write(tmp_path, "s.geojson", [{"name": f"夜市{payload}", "hours": "Mo-Su 18:00-23:00"}],
                                  [NIGHT_MARKET]), layer="stalls")
    case_id = file_road(engine, v["leader1"], IN_G001, EVENING)
    leader = v["leader1"]
    with transaction(engine) as session:
        grids, shops = current_grids(session, leader), open_shops(session, leader)
        cases, layer = cases_frame(session, leader), compact_layer(session, leader)
        features, summary = district_features(session), summary_of(session, leader)
    html = leader_map(grids, summary, shops, cases, features, compact=layer, language="zh").get_root().render()
    assert payload not in html and "lt;img src=x" in html  # the office's text, escaped
    assert "Mo-Su 18:00-23:00" in html and "准许摆摊区" in html and "门前三包区域" in html  # tooltip and legend
    assert json.dumps("不在任何摊区")[1:-1] in html  # the case's tooltip names its check (folium writes \\u escapes)
    zones = compact_table(layer, language="en")
    assert zones.to_dict("records") == [
        {"Kind": "Stall zone", "Name": f"夜市{payload}", "Hours": "Mo-Su 18:00-23:00"},
        {"Kind": "Service point", "Name": "新时代文明实践站", "Hours": "Mo-Fr 08:30-17:30"},
    ]
    item = next(i for i in card_items(cases, None, language="en") if i["case_no"])
    assert "Stall-zone check：Outside any stall zone" in card_html(item, "en")
    assert case_table(cases[cases["case_id"] == case_id], language="zh")["占道核查"].tolist() == ["不在任何摊区"]
    deck = json.loads(district_deck(grids.assign(worst_state="warning", open=1, overdue=0, warning=1), cases.iloc[0:0],
                                    pd.DataFrame(), features, language="zh", show_heat=False,
                                    show_hotspots=False, show_cases=False).to_json())
    assert {"stall-zones", "service-points"} <= {layer["id"] for layer in deck["layers"]}
    with_cases = district_deck(grids.assign(worst_state="warning", open=1, overdue=0, warning=1), cases,
                               pd.DataFrame(), features, language="zh", show_heat=False, show_hotspots=False)
    drawn = next(layer for layer in json.loads(with_cases.to_json())["layers"] if layer["id"] == "cases")
    assert [row["d"][:18] for row in drawn["data"]] == ["占道经营 · 不在任何摊区 · 预警"]  # then: overdue


def test_the_demo_has_stall_zones_service_points_and_checked_road_occupation_findings(demo_database):
    from governance.db import make_engine
    from governance.permissions import viewer_for

    engine = make_engine(demo_database)
    with transaction(engine) as session:
        checks = pd.Series([str(o) for o in session.scalars(
            select(Case.occupation).where(Case.category == "road_occupation"))]).value_counts()
        unchecked = session.scalar(select(Case.id).where(Case.category != "road_occupation",
                                                         Case.occupation.is_not(None)))
        leader = viewer_for(session, "leader01")
        layer = compact_layer(session, leader)
        shops = open_shops(session, leader)
        near = nearest_service_points(session, *shops.geometry.iloc[0].coords[0], limit=3)
    engine.dispose()
    assert set(checks.index) == {"permitted", "outside_zone", "outside_hours"} and unchecked is None
    frontage = layer[layer["kind"] == "frontage"]
    assert sorted(frontage["shop_code"]) == sorted(shops["shop_code"]) and frontage["generated"].all()
    assert len(near) == 3 and [p.distance_m for p in near] == sorted(p.distance_m for p in near)
