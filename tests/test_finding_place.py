"""Points (issue 16): a GPS reading on the district's edge, and a finding whose point and shop disagree.

A finding up to LINPU_SNAP_TO_GRID_M (10 m) outside the grids' outline goes to
the nearest grid, and its history says so; farther out it is refused naming
the distance.  A finding whose point lies in another grid than its named shop
is filed in the point's grid, its history naming the shop's grid.  The same
for one finding filed on the page and for a file of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import select

from governance.db import transaction
from governance.errors import OutsideGrids
from governance.grids import current_grid_frame
from governance.models import Case, CaseHistory, Grid, Shop
from governance.permissions import system_viewer
from governance.settings import get_settings
from governance.workflow import file_case
from tests import test_ingest_field as field_tests
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_field import cases_csv, finding
from tests.test_ingest_shops import database_url

cli, shops_db = shop_tests.cli, field_tests.shops_db  # fixtures
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def east_of_grids(engine, metres: float) -> tuple[float, float, str]:
    """A WGS84 point ``metres`` east of the grids' easternmost vertex (so exactly that far outside),
    and the code of the grid holding that vertex."""
    with transaction(engine) as session:
        grids = current_grid_frame(session).to_crs(4549)
    outline = shapely.union_all(grids.geometry.to_numpy())
    xy = shapely.get_coordinates(outline)
    x, y = xy[xy[:, 0].argmax()]
    nearest = grids.iloc[grids.distance(shapely.Point(x, y)).argmin()]["code"]
    point = gpd.GeoSeries([shapely.Point(x + metres, y)], crs=4549).to_crs(4326).iloc[0]
    return point.x, point.y, nearest


def filed(engine, case_no: str | None = None) -> tuple[str, str]:
    """(grid code, first history note) of a case (the newest when not named)."""
    with transaction(engine) as session:
        query = select(Grid.code, CaseHistory.note).join(Case, Case.grid_id == Grid.id) \
            .join(CaseHistory, (CaseHistory.case_id == Case.id) & (CaseHistory.seq == 1))
        query = query.where(Case.case_no == case_no) if case_no else query.order_by(Case.id.desc())
        return tuple(session.execute(query.limit(1)).one())


def file_at(engine, lon, lat, shop_code=None):
    with transaction(engine) as session:
        case = file_case(session, system_viewer(), kind="patrol", category="fire_exit", severity="medium",
                         title="安全出口上锁", lon=lon, lat=lat, shop_code=shop_code, now=NOW)
        return case.case_no


@pytest.fixture
def snap(monkeypatch):
    def use(metres: str) -> None:
        monkeypatch.setenv("LINPU_SNAP_TO_GRID_M", metres)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_a_reading_a_few_metres_outside_goes_to_the_nearest_grid_with_a_note(shops_db):
    lon, lat, nearest = east_of_grids(shops_db, 3)
    code, note = filed(shops_db, file_at(shops_db, lon, lat))
    assert code == nearest
    assert f"网格范围外 3.0 米，已归入最近的网格 {nearest}" in note
    assert f"3.0 m outside the grids; filed in the nearest grid {nearest}" in note


def test_farther_than_the_setting_is_refused_naming_the_distance(shops_db, snap):
    lon, lat, _ = east_of_grids(shops_db, 40)
    with pytest.raises(OutsideGrids, match=r"nearest grid is 40 m away.*LINPU_SNAP_TO_GRID_M = 10 m"):
        file_at(shops_db, lon, lat)
    snap("0")  # an office that wants every point inside
    lon, lat, _ = east_of_grids(shops_db, 3)
    with pytest.raises(OutsideGrids, match="nearest grid is 3 m away"):
        file_at(shops_db, lon, lat)
    snap("50")
    assert filed(shops_db, file_at(shops_db, *east_of_grids(shops_db, 40)[:2]))[0]


def shop_in(engine, code: str) -> str:
    with transaction(engine) as session:
        return session.scalar(select(Shop.shop_code).join(Grid, Grid.id == Shop.grid_id)
                              .where(Grid.code == code).order_by(Shop.shop_code).limit(1))


def inside(engine, code: str) -> tuple[float, float]:
    with transaction(engine) as session:
        grid = current_grid_frame(session).set_index("code").loc[code, "geometry"]
    point = grid.representative_point()
    return point.x, point.y


def test_a_point_in_another_grid_than_its_shop_is_filed_by_the_point_naming_the_shop_grid(shops_db):
    with transaction(shops_db) as session:
        shop_grids = dict(session.execute(select(Shop.shop_code, Grid.code).join(Grid, Grid.id == Shop.grid_id)).all())
    shop = sorted(shop_grids)[0]
    home = shop_grids[shop]
    other = next(code for code in ("G001", "G002", "G003", "G004") if code != home)
    code, note = filed(shops_db, file_at(shops_db, *inside(shops_db, other), shop_code=shop))
    assert code == other
    assert f"所指店铺 {shop} 属网格 {home}" in note and f"the named shop {shop} is in grid {home}" in note
    # At its own shop nothing needs saying.
    assert filed(shops_db, file_at(shops_db, *inside(shops_db, home), shop_code=shop)) == (home, "")


def test_a_file_of_findings_is_placed_the_same_way(shops_db, cli, tmp_path):
    with transaction(shops_db) as session:
        shop_grids = dict(session.execute(select(Shop.shop_code, Grid.code).join(Grid, Grid.id == Shop.grid_id)).all())
    shop = sorted(shop_grids)[0]
    other = next(code for code in ("G001", "G002", "G003", "G004") if code != shop_grids[shop])
    lon, lat = inside(shops_db, other)
    edge_lon, edge_lat, nearest = east_of_grids(shops_db, 4)
    far_lon, far_lat, _ = east_of_grids(shops_db, 60)
    refused = cli(database_url(shops_db), "ingest", "cases", cases_csv(tmp_path, [
        finding(0, lon=f"{far_lon:.7f}", lat=f"{far_lat:.7f}", shop_id="")], "far.csv"))
    assert refused.exit_code == 1
    assert "far.csv row 2 field lon" in refused.stderr and "60.0 m outside the nearest" in refused.stderr
    result = cli(database_url(shops_db), "ingest", "cases", cases_csv(tmp_path, [
        finding(1, lon=f"{lon:.7f}", lat=f"{lat:.7f}", shop_id=shop),
        finding(2, lon=f"{edge_lon:.7f}", lat=f"{edge_lat:.7f}", shop_id=""),
    ]))
    assert result.exit_code == 0, result.output
    with transaction(shops_db) as session:
        rows = pd.DataFrame(session.execute(
            select(Case.created_at, Grid.code, CaseHistory.note).join(Grid, Grid.id == Case.grid_id)
            .join(CaseHistory, (CaseHistory.case_id == Case.id) & (CaseHistory.seq == 1)).order_by(Case.created_at)
        ).all(), columns=["at", "code", "note"])
    assert rows["code"].tolist() == [other, nearest]
    assert f"the named shop {shop} is in grid {shop_grids[shop]}" in rows["note"].iloc[0]
    assert f"filed in the nearest grid {nearest}" in rows["note"].iloc[1]
