"""A grid leader created by `linpu users import` signs in with the one-time password, must choose
their own first (a reload does not skip it), then files a case: headless Chromium, offline."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from governance.db import make_engine, session_factory
from governance.login import must_change_password
from governance.models import Case, Grid
from tests import test_ingest_shops as shop_tests
from tests.conftest import running_app
from tests.test_browser_roles import open_page, settle

pytestmark = pytest.mark.browser
cli = shop_tests.cli

NEW_PASSWORD = "my-own-password-1"


@pytest.fixture
def imported_leader(demo_database, tmp_path, cli) -> tuple[str, str]:
    """A copy of the demo with one more leader, 新来的, imported from a file: (url, one-time password)."""
    target = tmp_path / "first.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    engine = make_engine(url)
    with session_factory(engine)() as session:
        code = session.scalars(select(Grid.code).where(Grid.generation.has(is_current=True)).order_by(Grid.code)).first()
    engine.dispose()
    source = tmp_path / "accounts.csv"
    source.write_text(f"username,display_name,role,grids\nnewleader,新来的,grid_leader,{code}\n", encoding="utf-8")
    out = tmp_path / "passwords.csv"
    assert cli(url, "users", "import", source, "--passwords-out", out).exit_code == 0
    with out.open(encoding="utf-8") as handle:
        return url, next(csv.DictReader(handle))["one_time_password"]


def test_imported_leader_sets_their_own_password_then_files_a_case(imported_leader, browser, tmp_path):
    url, once = imported_leader
    with running_app(url, tmp_path / "streamlit.log") as base:
        page, _, dialogs = open_page(browser)
        page.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
        page.get_by_role("textbox", name="User name").fill("newleader")
        page.get_by_role("textbox", name="Password").fill(once)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="My password").wait_for()
        page.get_by_text("one-time password").first.wait_for()
        # A reload (and the leader page's own address) still shows only the password page.
        settle(page)
        page.goto(f"{base}/leader?lang=en", wait_until="domcontentloaded")
        page.get_by_role("heading", name="My password").wait_for()
        assert page.get_by_role("heading", name="My grid").count() == 0

        assert page.get_by_text("Page not found").count() == 0
        # The policy is enforced: keeping the one-time password is refused.
        page.get_by_role("textbox", name="Current password").fill(once)
        page.get_by_role("textbox", name="New password", exact=True).fill(once)
        page.get_by_role("textbox", name="New password again").fill(once)
        page.get_by_role("button", name="Change the password").click()
        page.get_by_text("must differ from the current").wait_for()

        page.get_by_role("textbox", name="Current password").fill(once)
        page.get_by_role("textbox", name="New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_role("textbox", name="New password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change the password").click()
        page.get_by_role("heading", name="My grid").wait_for()

        page.get_by_role("tab", name="Report").click()
        page.get_by_text("Pick a shop").first.wait_for()
        page.locator("[data-testid='stSelectbox']").filter(has_text="Shop").first.click()
        page.get_by_role("option").first.click()
        page.get_by_role("textbox", name="Title").fill("新来的 first finding")
        page.get_by_role("button", name="Submit").click()
        page.get_by_text(re.compile(r"Case .* filed")).wait_for()
        page.screenshot(path=str(tmp_path / "first-sign-in.png"), full_page=True)
        assert not dialogs, dialogs
        page.close()

    engine = make_engine(url)
    with session_factory(engine)() as session:
        case = session.scalar(select(Case).where(Case.title == "新来的 first finding"))
        assert case is not None and case.reporter.username == "newleader"
        assert not must_change_password(session, "newleader")
    engine.dispose()
