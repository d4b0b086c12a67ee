"""``linpu boards`` (pipelines.boards): an A5 300 dpi PNG per shop and one PDF per run; the QR code read
back from the PNG (zxing-cpp) opens the shop's public page through the app's routes; a missing CJK font
is refused with the fix before anything is written."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import streamlit as st
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.routes import ROUTES
from governance.badges import award_badge
from governance.catalog import MemberRole
from governance.db import make_engine, transaction
from governance.errors import ConfigurationError, NotFoundError
from governance.models import Grid, GridMember, Shop, ShopBadge
from governance.permissions import system_viewer
from governance.public_view import public_shops
from governance.settings import get_settings
from pipelines.boards import A5_PX, board_texts, make_boards
from pipelines.commands.root import main

PUBLIC = "https://linpu-public.example.cn"


@pytest.fixture
def demo(demo_database, tmp_path, monkeypatch):
    target = tmp_path / "boards.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    monkeypatch.setenv("LINPU_DATABASE_URL", url)
    monkeypatch.setenv("LINPU_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("LINPU_BOARD_FONT", raising=False)
    get_settings.cache_clear()
    st.cache_resource.clear()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    get_settings.cache_clear()
    st.cache_resource.clear()


def _grid_with_badges(engine) -> str:
    with transaction(engine) as session:
        return session.scalar(select(Grid.code).join(Shop, Shop.grid_id == Grid.id)
                              .join(ShopBadge, ShopBadge.shop_id == Shop.id).order_by(Grid.code))


def test_a_grids_boards_are_a5_at_300_dpi_and_their_qr_code_opens_the_shops_page(demo, tmp_path):
    code = _grid_with_badges(demo)
    report = make_boards(demo, out_dir=tmp_path / "out", grid_code=code)
    with transaction(demo) as session:
        shops = {s.public_id: s for s in session.scalars(
            select(Shop).join(Grid, Grid.id == Shop.grid_id).where(Grid.code == code, Shop.closed_at.is_(None)))}
        internal_codes = {s.shop_code for s in shops.values()}
        names = {pid: s.name for pid, s in shops.items()}
    assert len(report.pngs) == len(shops) > 1
    pdf = report.pdf.read_bytes()
    # Pages are appended one at a time (incremental updates): the last page tree counts them all.
    assert int(re.findall(rb"/Count\s+(\d+)", pdf)[-1]) == len(shops)
    http = TestClient(Starlette(routes=ROUTES))
    for png in report.pngs[:3]:
        image = Image.open(png)
        assert image.size == A5_PX == (1748, 2480) and round(image.info["dpi"][0]) == 300
        decoded = [r.text for r in zxingcpp.read_barcodes(image)]
        assert len(decoded) == 1 and decoded[0].startswith(PUBLIC + "/p/s/")
        public_id = decoded[0].rsplit("/", 1)[1]
        assert public_id in shops and not any(c in decoded[0] for c in internal_codes)
        page = http.get(urlsplit(decoded[0]).path)
        assert page.status_code == 200 and names[public_id] in page.text


def test_a_missing_cjk_font_is_refused_with_the_fix_and_nothing_is_written(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("LINPU_BOARD_FONT", str(tmp_path / "no-such-font.ttf"))
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="fonts-noto-cjk"):
        make_boards(demo, out_dir=tmp_path / "out", grid_code="G001")
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["boards", "--all", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "apt-get install fonts-noto-cjk" in result.output
    assert not (tmp_path / "out").exists()


def test_changed_since_takes_only_shops_whose_board_changed_and_the_cli_checks_its_options(demo, tmp_path):
    with transaction(demo) as session:
        shop = session.scalar(select(Shop).where(Shop.closed_at.is_(None), Shop.grid_id.is_not(None))
                              .order_by(Shop.id.desc()))
        award_badge(session, system_viewer(), shop.shop_code, "pioneer") if not session.scalar(
            select(ShopBadge.id).where(ShopBadge.shop_id == shop.id, ShopBadge.badge == "pioneer",
                                       ShopBadge.revoked_at.is_(None))) else None
        public_id = shop.public_id
    since = datetime.now(UTC) - timedelta(minutes=1)
    report = make_boards(demo, out_dir=tmp_path / "changed", changed_since=since)
    assert [p.name for p in report.pngs] == [p.name for p in report.pngs if public_id in p.name]
    assert len(report.pngs) == 1
    with pytest.raises(NotFoundError):
        make_boards(demo, out_dir=tmp_path / "none", grid_code="G999")
    runner = CliRunner()
    assert runner.invoke(main, ["boards", "--out", str(tmp_path / "x")]).exit_code == 2
    today = datetime.now().strftime("%Y-%m-%d")
    result = runner.invoke(main, ["boards", "--all", "--changed-since", today, "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "boards (PNG, A5, 300 dpi)" in result.output


def test_a_board_shows_the_name_badges_promise_grid_leader_and_masked_phone(demo):
    held = (ShopBadge.revoked_at.is_(None), Shop.closed_at.is_(None), Shop.grid_id.is_not(None))
    with transaction(demo) as session:
        party = session.scalar(select(Shop).join(ShopBadge, ShopBadge.shop_id == Shop.id)
                               .where(ShopBadge.badge == "party_member_operator", *held).order_by(Shop.id))
        plain = session.scalar(select(Shop).where(Shop.closed_at.is_(None), Shop.grid_id == party.grid_id,
                                                  ~Shop.id.in_(select(ShopBadge.shop_id).where(*held[:1])))
                               .order_by(Shop.id))
        leader = session.scalar(select(GridMember).where(GridMember.grid_id == party.grid_id,
                                                         GridMember.role == MemberRole.LEADER))
        leader.phone = "13812345678"
        code = session.scalar(select(Grid.code).where(Grid.id == party.grid_id))
        held_words = {"【党员经营户】"} | {f"【{w}】" for w in ("示范户", "放心店", "先锋商户")}
        [party_shop, plain_shop] = public_shops(session, [party, plain])
        name, plain_name, leader_name, public_id = party.name, plain.name, leader.name, party.public_id
    texts = board_texts(party_shop)
    assert texts.title == "邻铺公示牌" and texts.name == name
    assert "【党员经营户】" in texts.badges and set(texts.badges) <= held_words
    assert texts.promise and "亮承诺" in texts.promise
    assert texts.grid == f"网格：{code}"
    assert texts.leader == f"邻铺长：{leader_name} 138****5678"
    assert texts.url == f"{PUBLIC}/p/s/{public_id}"
    assert not any("13812345678" in str(text) for text in vars(texts).values())  # never the whole phone
    other = board_texts(plain_shop)
    assert other.name == plain_name and other.badges == () and other.promise is None
    assert other.leader == texts.leader and other.grid == texts.grid
