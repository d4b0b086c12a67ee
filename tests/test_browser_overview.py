"""The district overview in a real headless Chromium, offline."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from governance.db import make_engine, session_factory
from governance.models import Grid

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_grid_codes(demo_database) -> list[str]:
    engine = make_engine(demo_database)
    with session_factory(engine)() as session:
        codes = session.scalars(select(Grid.code).order_by(Grid.code)).all()
    engine.dispose()
    return list(codes)


def test_overview_draws_map_and_grid_table_offline(demo_app, browser, demo_grid_codes, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requested_hosts: set[str] = set()
    page.on("request", lambda request: requested_hosts.add(urlparse(request.url).hostname or ""))
    page.goto(demo_app, wait_until="domcontentloaded")

    page.get_by_text("街区网格闭环总览").wait_for(timeout=60_000)
    map_frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
    # Leaflet drew the grid polygons (canvas renderer) and the legend.
    map_frame.locator(".leaflet-container").wait_for(timeout=60_000)
    map_frame.get_by_text("网格状态（最差未闭环）").wait_for(timeout=30_000)
    assert map_frame.locator("canvas.leaflet-zoom-animated").count() >= 1

    # The per-grid table lists the demo's grid codes (glide-data-grid keeps an
    # accessible copy of its cells in the DOM).
    table = page.locator("[data-testid='stDataFrame']")
    table.wait_for(timeout=30_000)
    for code in (demo_grid_codes[0], demo_grid_codes[len(demo_grid_codes) // 2]):
        table.get_by_role("gridcell", name=code, exact=True, include_hidden=True).first.wait_for(state="attached", timeout=30_000)

    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    # Nothing was fetched from outside this machine: Leaflet came from the app.
    assert requested_hosts <= {"127.0.0.1", "localhost", ""}, requested_hosts
    page.close()
