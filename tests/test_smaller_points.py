"""The smaller points of issue 16, each as the office would meet it."""

from __future__ import annotations

import io
import json

import pandas as pd
from sqlalchemy import func, select

from dashboard.i18n import CATALOGUE
from governance.db import transaction
from governance.models import Shop
from tests import test_ingest_shops as shop_tests
from tests.test_cli_grids_store import _register
from tests.test_ingest_shops import GOOD_SHOPS, database_url

cli, district = shop_tests.cli, shop_tests.district  # fixtures


def test_a_regridding_counts_the_shops_that_changed_grid_not_every_shop(engine, cli):
    _register(engine)
    url = database_url(engine)
    first = cli(url, "grids", "save", "--json")
    assert first.exit_code == 0, first.stderr
    adopted = json.loads(first.stdout)["adopted"]
    assert (adopted["shops_changed_grid"], adopted["shops_reassigned"]) == (30, 30)  # none had a grid
    again = cli(url, "grids", "save", "--update")  # nothing opened or closed: nobody moves
    assert again.exit_code == 0, again.stderr
    assert "0 of 30 shops changed grid" in again.stdout


def workbook(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def stored_shops(engine) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(Shop))


def test_a_workbook_with_several_filled_sheets_is_refused_naming_them(district, cli, tmp_path):
    shops = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)
    path = tmp_path / "register.xlsx"
    path.write_bytes(workbook({"说明": pd.DataFrame({"说明": ["本表为2026年11月商户登记"]}),
                               "商户登记": shops}))
    result = cli(database_url(district), "ingest", "shops", path)
    assert result.exit_code == 1
    assert "register.xlsx row 1 field (file): the workbook has 2 sheets with data ('说明', '商户登记')" \
        in result.stderr
    assert stored_shops(district) == 0


def test_the_sheet_read_is_named(district, cli, tmp_path):
    shops = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)
    path = tmp_path / "register.xlsx"
    path.write_bytes(workbook({"封面": pd.DataFrame(), "商户登记": shops}))
    result = cli(database_url(district), "ingest", "shops", path, "--json")
    assert result.exit_code == 0, result.stderr
    assert "read sheet '商户登记' of the workbook" in json.loads(result.stdout)["notes"]
    assert stored_shops(district) == len(shops)


def test_a_relative_sqlite_path_is_refused_and_creates_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("sqlite:///var/linpu.sqlite3", "db", "current")
    assert result.exit_code == 2
    assert "the SQLite path 'var/linpu.sqlite3' is relative" in result.stderr
    assert f"sqlite:///{tmp_path.resolve().as_posix()}/var/linpu.sqlite3" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_team_and_shop_tables_have_a_label_for_every_column():
    # The grid team's columns (queries.grid_team) and the shop table's (frames.shop_table).
    for column in ("role", "name", "phone", "username", "shop_code", "trade", "badges", "address"):
        assert f"col.{column}" in CATALOGUE, column
