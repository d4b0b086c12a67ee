"""One clock (issue 16): stored in UTC, shown, printed and exported in LINPU_TIMEZONE.

A finding a leader wrote down at 15:20 reads 15:20 on the page and in every
file, with its offset where the format carries one ("Times in files").
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError
from sqlalchemy import select

from dashboard.frames import case_table
from dashboard.maps import leader_map
from governance.db import transaction
from governance.filters import CaseFilter
from governance.models import Case
from governance.outbox_clock import local_day
from governance.settings import Settings, get_settings
from pipelines.notify_format import china_time
from tests import test_ingest_field as field_tests
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_field import cases_csv, finding
from tests.test_ingest_shops import database_url

cli, shops_db = shop_tests.cli, field_tests.shops_db  # fixtures


@pytest.fixture
def zone(monkeypatch):
    """Set LINPU_TIMEZONE for the test (the cli fixture re-reads the settings)."""

    def use(name: str) -> None:
        monkeypatch.setenv("LINPU_TIMEZONE", name)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def filed_at_1520(engine, cli, tmp_path) -> datetime:
    result = cli(database_url(engine), "ingest", "cases",
                 cases_csv(tmp_path, [finding(0, created_at="2026-07-01 15:20")]))
    assert result.exit_code == 0, result.output
    with transaction(engine) as session:
        stored = session.scalar(select(Case.created_at))
    return stored if stored.tzinfo else stored.replace(tzinfo=UTC)


def exported(engine, cli, tmp_path, fmt: str):
    out = tmp_path / f"cases.{fmt}"
    result = cli(database_url(engine), "export", "--layer", "cases", "--format", fmt, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_a_1520_finding_reads_1520_in_china_on_the_page_and_in_every_file(shops_db, cli, tmp_path):
    stored = filed_at_1520(shops_db, cli, tmp_path)
    assert stored == datetime(2026, 7, 1, 7, 20, tzinfo=UTC)  # stored in UTC
    text = exported(shops_db, cli, tmp_path, "csv").read_bytes().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["created_at"] == "2026-07-01T15:20:00+08:00"
    assert row["closed_at"] == ""  # a missing time is empty, not NaT or nan
    feature = json.loads(exported(shops_db, cli, tmp_path, "geojson").read_text())["features"][0]
    assert feature["properties"]["created_at"] == "2026-07-01T15:20:00+08:00"
    kml = exported(shops_db, cli, tmp_path, "kml").read_text()
    assert "2026-07-01T15:20:00+08:00" in kml
    # GeoPackage keeps the typed UTC time and says the local time beside it.
    package = gpd.read_file(exported(shops_db, cli, tmp_path, "gpkg"), layer="cases")
    assert pd.Timestamp(package["created_at"].iloc[0]).tz_convert(UTC) == pd.Timestamp(stored)
    assert package["created_at_local"].iloc[0] == "2026-07-01T15:20:00+08:00"
    table = case_table(pd.DataFrame({"case_no": ["C1"], "created_at": [stored], "due_at": [None]}), language="zh")
    assert table.iloc[0].tolist() == ["C1", "2026-07-01 15:20", ""]


def test_linpu_timezone_moves_reading_filtering_showing_and_exporting(shops_db, cli, tmp_path, zone):
    zone("Asia/Tokyo")
    stored = filed_at_1520(shops_db, cli, tmp_path)
    assert stored == datetime(2026, 7, 1, 6, 20, tzinfo=UTC)  # the file's 15:20 is Tokyo's
    text = exported(shops_db, cli, tmp_path, "csv").read_bytes().decode("utf-8-sig")
    assert "2026-07-01T15:20:00+09:00" in text
    day = CaseFilter.for_days(date(2026, 7, 1), date(2026, 7, 1))
    assert (day.start.isoformat(), day.end.isoformat()) == ("2026-07-01T00:00:00+09:00",
                                                            "2026-07-02T00:00:00+09:00")
    start, _ = local_day(datetime(2026, 6, 30, 15, 30, tzinfo=UTC))
    assert start.isoformat() == "2026-07-01T00:00:00+09:00"
    table = case_table(pd.DataFrame({"case_no": ["C1"], "created_at": [stored]}), language="en")
    assert table.iloc[0, 1] == "2026-07-01 15:20"


def test_an_unknown_time_zone_is_refused_naming_the_setting(shops_db, cli, zone):
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings(timezone="China/Quanzhou")
    zone("China/Quanzhou")
    result = cli(database_url(shops_db), "db", "current")
    assert result.exit_code == 2
    assert "LINPU_TIMEZONE" in result.stderr and "Traceback" not in result.stderr


def test_the_leaders_map_shows_a_due_time_in_china_time():
    grid = gpd.GeoDataFrame({"code": ["G001"], "n_shops": [10], "open": [1], "overdue": [0],
                             "worst_state": ["warning"], "warning": [1]},
                            geometry=[shapely.box(118.90, 25.10, 118.91, 25.11)], crs=4326)
    cases = gpd.GeoDataFrame({"case_no": ["L1"], "title": ["安全出口上锁"], "state": ["warning"],
                              "category": ["fire_exit"], "overdue": [False],
                              "due_at": [datetime(2026, 7, 1, 7, 20, tzinfo=UTC)]},
                             geometry=[shapely.Point(118.905, 25.105)], crs=4326)
    shops = gpd.GeoDataFrame({"name": [], "shop_code": []}, geometry=[], crs=4326)
    html = leader_map(grid, grid[["code", "open", "overdue", "worst_state"]], shops, cases,
                      gpd.GeoDataFrame({"kind": [], "name": [], "street_class": []}, geometry=[], crs=4326)
                      ).get_root().render()
    assert '"due": "07-01 15:20"' in html and "07-01 07:20" not in html


def test_a_notification_says_beijing_time_only_in_beijing_time(zone):
    assert china_time("2026-07-01T07:20:00+00:00", "zh") == "2026-07-01 15:20（北京时间）"
    zone("Asia/Tokyo")
    assert china_time("2026-07-01T07:20:00+00:00", "zh") == "2026-07-01 16:20 (UTC+09:00)"


@pytest.mark.parametrize(("name", "winter", "summer"), [
    ("Asia/Shanghai", "2026-01-15T20:30:00+08:00", "2026-07-15T20:30:00+08:00"),
    ("Europe/Berlin", "2026-01-15T13:30:00+01:00", "2026-07-15T14:30:00+02:00"),
    ("America/St_Johns", "2026-01-15T09:00:00-03:30", "2026-07-15T10:00:00-02:30"),
])
def test_files_carry_local_time_with_the_offset_of_its_own_day(zone, name, winter, summer):
    """Each time in a file carries the offset its day had (summer time included), whole
    seconds, and a missing time is empty, not "NaT"."""
    from governance.clock import local_iso

    zone(name)
    stored = ["2026-01-15 12:30:00.75", None, datetime(2026, 7, 15, 12, 30, tzinfo=UTC)]
    assert local_iso(stored).tolist() == [winter, "", summer]
