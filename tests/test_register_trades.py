"""Trade as offices write it: optional, read by one rule table, the office's word kept, 用气 deciding the gas check."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select

from governance.catalog import Category, Trade
from governance.check_due import checks_due
from governance.db import transaction
from governance.models import Shop
from governance.permissions import district_viewer
from governance.trades import trade_of
from pipelines.ingest import ingest_shops
from tests import test_ingest_shops
from tests.test_ingest_shops import BAD, GOOD_SHOPS, NOW, database_url

district = test_ingest_shops.district
cli = test_ingest_shops.cli


@pytest.mark.parametrize(("word", "trade"), [
    ("中餐厅", Trade.CATERING), ("服装鞋帽皮具店", Trade.CLOTHING), ("购物服务", Trade.RETAIL),
    ("餐饮服务", Trade.CATERING), ("餐饮服务;快餐厅;肯德基", Trade.SNACKS), ("沙县小吃", Trade.SNACKS),
    ("购物服务;专卖店;烟酒专卖店", Trade.RETAIL), ("住宿服务;宾馆酒店;经济型连锁酒店", Trade.LODGING),
    ("茶饮", Trade.TEA), ("TEA", Trade.TEA), ("殡葬用品", None),
])
def test_the_rule_table_reads_amap_categories_and_common_names(word, trade):
    assert trade_of(word) == trade


def stored(engine) -> dict[str, tuple]:
    with transaction(engine) as session:
        rows = session.execute(select(Shop.shop_code, Shop.trade, Shop.trade_label, Shop.uses_gas, Shop.address,
                                      Shop.phone)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_office_words_address_and_phone_are_kept_and_unknown_words_counted(district, tmp_path):
    frame = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False).head(4)
    frame = frame.drop(columns=["trade"]).rename(columns={"name": "店名"})
    frame["行业"] = ["餐饮服务;中餐厅;中餐厅", "殡葬用品", "", "奶茶店"]
    frame["地址"] = ["山腰路1号", "", "山腰路3号", ""]
    frame["联系电话"] = ["13812341234", "", "", ""]
    path = tmp_path / "office.csv"
    frame.to_csv(path, index=False, encoding="gbk")
    report = ingest_shops(district, path, now=NOW)
    assert not report.problems and report.written
    assert report.counts["without_trade"] == 2
    assert any("殡葬用品 (1)" in note for note in report.notes)
    shops = stored(district)
    assert shops["YJ0001"] == (Trade.CATERING, "餐饮服务;中餐厅;中餐厅", None, "山腰路1号", "13812341234")
    assert shops["YJ0002"][:2] == (None, "殡葬用品")
    assert shops["YJ0003"][:2] == (None, None)


def test_the_uses_gas_column_decides_the_gas_check(district, tmp_path):
    frame = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False).head(3)
    frame["trade"] = ["中餐厅", "殡葬用品", "中餐厅"]
    frame["用气"] = ["否", "是", ""]
    path = tmp_path / "gas.csv"
    frame.to_csv(path, index=False)
    assert ingest_shops(district, path, now=NOW).written
    with transaction(district) as session:
        due = checks_due(session, district_viewer(), now=NOW)
    gas = set(due.loc[due["category"] == Category.GAS.value, "shop_code"])
    assert gas == {"YJ0002", "YJ0003"}  # says so; catering with an empty cell: the trade decides
    assert set(due.loc[due["category"] == Category.ELECTRICITY.value, "shop_code"]) == {"YJ0001", "YJ0002",
                                                                                        "YJ0003"}


def test_a_bad_uses_gas_value_is_refused_in_both_languages(district, tmp_path):
    frame = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False).head(2)
    frame["用气"] = ["也许", ""]
    path = tmp_path / "bad_gas.csv"
    frame.to_csv(path, index=False)
    report = ingest_shops(district, path, now=NOW)
    assert report.refused
    assert "bad_gas.csv row 2 field uses_gas: '也许' 不是 是/否 / is not yes or no" in report.problem_lines()[0]


def test_files_once_refused_for_trade_are_now_read(district, cli):
    url = database_url(district)
    missing = cli(url, "ingest", "shops", BAD / "missing_columns.csv", "--json")
    assert missing.exit_code == 0
    assert json.loads(missing.stdout)["counts"]["without_trade"] == 3  # every row: the file has no trade
    unknown = cli(url, "ingest", "shops", BAD / "unknown_trade.csv", "--partial")
    assert unknown.exit_code == 0 and "casino (1)" in unknown.stderr
    assert stored(district)["YJ0002"][:2] == (None, "casino")
