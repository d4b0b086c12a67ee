"""The grid leader's lists of cards on a 390 px phone in headless Chromium: nothing runs off
the side, a long title is read in full on its card, and tapping the card opens that case
at its next step, named by title and number, with its timeline in China time."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import select

from governance.db import make_engine, transaction
from governance.models import Case, CaseHistory
from governance.permissions import viewer_for
from tests.conftest import running_app
from tests.test_browser_session import PHONE, sign_in

LONG_TITLE = ("未通过：安装燃气报警器且工作正常，燃气软管未超过两米且无老化龟裂，"
              "灶具熄火保护装置有效 — checked again after the shop's kitchen was rebuilt")
USER = "leader05"


@pytest.fixture(scope="module")
def cards_app(demo_database, tmp_path_factory) -> Iterator[tuple[str, str, str]]:
    """The app on a copy of the demo where one of leader05's open cases has a long title."""
    folder = tmp_path_factory.mktemp("cards-app")
    copy = folder / "demo.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), copy)
    engine = make_engine(f"sqlite:///{copy}")
    with transaction(engine) as session:
        grids = viewer_for(session, USER).grid_ids
        case = session.scalars(select(Case).where(Case.grid_id.in_(grids), Case.state != "closed")
                               .order_by(Case.case_no)).first()
        case.title = LONG_TITLE
        first = session.scalar(select(CaseHistory.at).where(CaseHistory.case_id == case.id)
                               .order_by(CaseHistory.seq))
        case_no = case.case_no
    engine.dispose()
    local = pd.Timestamp(first).tz_localize("UTC") if pd.Timestamp(first).tzinfo is None else pd.Timestamp(first)
    shown = local.tz_convert(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    with running_app(f"sqlite:///{copy}", folder / "streamlit.log", extra_env={"LINPU_DEMO_MODE": "true"}) as base:
        yield base, case_no, shown


def no_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_cards_at_390px_show_a_long_title_in_full_and_open_the_case(browser, cards_app):
    base, case_no, first_step_china_time = cards_app
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, USER)
    page.get_by_role("tab", name="Today").click()
    title = page.locator(".linpu-card-title:visible", has_text=LONG_TITLE).first
    title.wait_for(timeout=60_000)
    # Read in full: the whole text, wrapped inside the card and the screen, nothing clipped.
    assert title.inner_text() == LONG_TITLE
    box = title.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert title.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert no_overflow(page)
    card = page.locator(".linpu-card:visible", has_text=LONG_TITLE).first
    assert re.search(r"(Due in|Overdue by) \d", card.inner_text())

    page.locator("button:visible", has_text=f"Open {case_no}").first.click()
    heading = page.get_by_role("heading", name=re.compile(re.escape(case_no)))
    heading.wait_for(timeout=60_000)
    assert LONG_TITLE in heading.inner_text()
    assert f"case={case_no}" in page.url
    page.get_by_text("Next step").wait_for(timeout=30_000)
    page.get_by_text(first_step_china_time).first.wait_for(timeout=30_000)
    assert no_overflow(page)

    # The same card in My cases, and back to the list.
    page.get_by_role("button", name="‹ All my cases").click()
    page.locator(".linpu-card-title:visible", has_text=LONG_TITLE).first.wait_for(timeout=60_000)
    assert no_overflow(page)
    context.close()
