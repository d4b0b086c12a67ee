"""Refresh the README screenshots: `make screenshots` (needs Debian's chromium).

Starts the dashboard on the demo database at a free port, opens each page in
headless Chromium and writes PNGs under docs/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM_ARGS, start_app  # noqa: E402

SHOTS = [
    # (file, path and query, text to wait for, viewport)
    ("overview.png", "/?lang=zh", "街区网格闭环总览", (1400, 860)),
    ("overview-en.png", "/?lang=en", "District grids and the closed loop", (1400, 860)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'var' / 'linpu.sqlite3'}")
    args = parser.parse_args()
    log = ROOT / "var" / "screenshots-streamlit.log"
    log.parent.mkdir(exist_ok=True)
    process, base = start_app(args.database_url, log, extra_env={"LINPU_DEMO_MODE": "true"})
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
            )
            for name, path, wait_text, (width, height) in SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(base + path, wait_until="domcontentloaded")
                page.get_by_text(wait_text).first.wait_for(timeout=60_000)
                page.frame_locator("iframe").first.locator(".leaflet-container").wait_for(timeout=60_000)
                page.wait_for_timeout(2500)
                page.screenshot(path=str(ROOT / "docs" / name))
                print(f"wrote docs/{name}")
                page.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
