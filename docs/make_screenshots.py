"""Refresh the README screenshots: `make screenshots` (needs Debian's chromium).

Starts the dashboard on the demo database at a free port, signs in as each
role in headless Chromium and writes PNGs under docs/.  ``--public`` instead
prints a board (``linpu boards``) and shows the public pages on a 390 px
phone: it places one order, so give it a copy of the demo.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM_ARGS, running_app  # noqa: E402

PASSWORD = "linpu-demo"
SHOTS = [
    # (file, user, language, heading to wait for, what else to wait for, viewport)
    ("login.png", None, "zh", "登录邻铺", None, (1400, 860)),
    ("leader-mobile.png", "leader01", "zh", "我的网格", "folium", (390, 844)),
    ("leader.png", "leader01", "en", "My grid", "folium", (1400, 860)),
    # A grid with a stall zone and a service point: the compact's layers and the list under the map.
    ("leader-zones-mobile.png", "leader05", "zh", "我的网格", "folium", (390, 1300)),
    ("supervisor.png", "supervisor1", "zh", "街区督办", "deck", (1400, 1100)),
    ("supervisor-en.png", "supervisor1", "en", "District supervision", "deck", (1400, 1100)),
    ("analyst.png", "analyst1", "zh", "数据分析与导出", None, (1400, 860)),
    # A fire-safety member with a sub-task of a split case; a department with orders on two clocks.
    ("member-mobile.png", "fire01", "zh", "我的网格任务", None, (390, 844)),
    ("department-mobile.png", "dept_economy", "zh", "部门接单", None, (390, 1180)),
]


def settle(page) -> None:
    page.wait_for_timeout(600)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=120_000)


def public_shots(browser, base: str, database_url: str) -> None:
    """A board, then the shop's page, a placed order, its tracking page and the grid's page at 390 px."""
    from PIL import Image
    from sqlalchemy import select

    from governance.db import make_engine, transaction
    from governance.models import Shop, ShopBadge
    from pipelines.boards import make_boards

    engine = make_engine(database_url)
    with transaction(engine) as session:
        shop = session.scalar(select(Shop).join(ShopBadge, ShopBadge.shop_id == Shop.id)
                              .where(ShopBadge.badge == "party_member_operator", ShopBadge.revoked_at.is_(None))
                              .order_by(Shop.id))
        public_id, grid_id = shop.public_id, shop.grid_id
        grid_code = shop.grid.code
    out = ROOT / "var" / "boards-screenshot"
    report = make_boards(engine, out_dir=out, grid_code=grid_code)
    board = next(p for p in report.pngs if public_id in p.name)
    Image.open(board).resize((874, 1240), Image.LANCZOS).save(ROOT / "docs" / "board.png")
    print(f"wrote docs/board.png (from {board.name}, grid {grid_id})")
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(f"{base}/p/s/{public_id}")
    page.screenshot(path=str(ROOT / "docs" / "public-shop.png"), full_page=True)
    page.fill("#text", "店门口的电动车挡住了消防通道，请尽快处理。")
    page.select_option("#topic", "fire_exit")
    page.check("input[value=complaint]")
    page.fill("#phone", "13900001234")
    page.get_by_role("button", name="提交").click()
    page.locator(".code").wait_for()
    page.screenshot(path=str(ROOT / "docs" / "public-placed.png"), full_page=True)
    page.locator(".link a").click()
    page.get_by_role("heading", name="办理进度").wait_for()
    page.screenshot(path=str(ROOT / "docs" / "public-tracking.png"), full_page=True)
    page.goto(f"{base}/p/g/{grid_code}?lang=en")
    page.screenshot(path=str(ROOT / "docs" / "public-grid-en.png"), full_page=True)
    print("wrote docs/public-shop.png, public-placed.png, public-tracking.png, public-grid-en.png")
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'var' / 'linpu.sqlite3'}")
    parser.add_argument("--public", action="store_true", help="A board and the public pages only.")
    parser.add_argument("--only", action="append", default=[], help="Take only this file (repeat).")
    args = parser.parse_args()
    log = ROOT / "var" / "screenshots-streamlit.log"
    log.parent.mkdir(exist_ok=True)
    with (
        running_app(args.database_url, log, extra_env={"LINPU_DEMO_MODE": "true"}) as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        if args.public:
            public_shots(browser, base, args.database_url)
        for name, user, lang, heading, wait, (width, height) in [] if args.public else SHOTS:
            if args.only and name not in args.only:
                continue
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(120_000)
            page.goto(f"{base}/?lang={lang}", wait_until="domcontentloaded")
            if user:
                page.get_by_role("textbox", name="用户名" if lang == "zh" else "User name").fill(user)
                page.get_by_role("textbox", name="密码" if lang == "zh" else "Password").fill(PASSWORD)
                page.get_by_role("button", name="登录" if lang == "zh" else "Sign in").click()
            page.get_by_role("heading", name=heading).wait_for()
            if wait == "folium":
                page.frame_locator("iframe[title='streamlit_folium.st_folium']").first.locator(
                    ".leaflet-container").wait_for()
            elif wait == "deck":
                page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for()
            settle(page)
            page.wait_for_timeout(2500)  # tiles of canvas layers and fitBounds
            page.screenshot(path=str(ROOT / "docs" / name))
            print(f"wrote docs/{name}")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
