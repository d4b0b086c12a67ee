"""Phones masked (issue 16): 138****1234 in the shop tables and the grid team, in full only for the admin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from dashboard.frames import shop_table
from governance import queries
from governance.db import transaction
from governance.models import Shop
from governance.testing import seed_small_district

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def small(engine):
    district = seed_small_district(engine, now=NOW)
    with transaction(engine) as session:
        session.execute(update(Shop).where(Shop.shop_code == "S-G001")
                        .values(phone="13812341234", address="泉港区山腰街道永嘉街12号", trade_label="中餐厅"))
        session.execute(update(Shop).where(Shop.shop_code == "S-G002").values(trade=None, trade_label="汽车维修"))
    return district


@pytest.mark.parametrize(("username", "shop_phone", "team_phone"), [
    ("admin", "13812341234", "138-0000-0000"),
    ("supervisor", "138****1234", "138****0000"),
    ("analyst", "138****1234", "138****0000"),
    ("leader1", "138****1234", "138****0000"),
])
def test_the_phone_is_whole_only_for_the_admin(engine, small, username, shop_phone, team_phone):
    viewer = small.viewer(engine, username)
    with transaction(engine) as session:
        shops = queries.open_shops(session, viewer, grid_codes=("G001",))
        team = queries.grid_team(session, viewer, "G001")
    assert shops.set_index("shop_code").loc["S-G001", "phone"] == shop_phone
    assert team.set_index("role").loc["fire", "phone"] == team_phone


def test_the_shop_table_shows_trade_words_address_and_the_masked_phone(engine, small):
    with transaction(engine) as session:
        shops = queries.open_shops(session, small.viewer(engine, "supervisor"))
    table = shop_table(shops, language="zh")
    assert list(table.columns) == ["商铺编号", "名称", "业态", "荣誉标识", "地址", "电话"]
    rows = table.set_index("商铺编号")
    assert rows.loc["S-G001", "业态"] == "餐饮（中餐厅）"  # Linpu's word and the office's own
    assert rows.loc["S-G002", "业态"] == "汽车维修"  # a word that maps to no trade is kept as it is
    assert rows.loc["S-G001", "地址"] == "泉港区山腰街道永嘉街12号"
    assert rows.loc["S-G001", "电话"] == "138****1234" and rows.loc["S-G002", "电话"] == ""
    english = shop_table(shops, language="en").set_index("Shop code")
    assert english.loc["S-G001", "Trade"] == "Catering（中餐厅）"
