"""Refresh the README screenshots: `make screenshots` (needs Debian's chromium).

Starts the dashboard on the demo database at a free port, signs in as each
role in headless Chromium and writes PNGs under docs/.
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
]


def settle(page) -> None:
    page.wait_for_timeout(600)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=120_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'var' / 'linpu.sqlite3'}")
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
        for name, user, lang, heading, wait, (width, height) in SHOTS:
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
