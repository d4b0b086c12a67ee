"""Signing in from a phone or a desk in headless Chromium: the sign-in outlives a reload,
lives in an HttpOnly cookie holding no name, and ends everywhere on sign-out or a password change."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from governance.db import make_engine, transaction
from governance.login import change_password
from tests.conftest import running_app

#: The sign-in page's heading, in whichever language the page fell back to.
SIGN_IN = re.compile("Sign in to Linpu|登录邻铺")
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def app_url(demo_database, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The app on a private copy of the demo (these tests write sign-ins and passwords)."""
    folder = tmp_path_factory.mktemp("session-app")
    copy = folder / "demo.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), copy)
    url = f"sqlite:///{copy}"
    with running_app(url, folder / "streamlit.log", extra_env={"LINPU_DEMO_MODE": "true"}) as base:
        yield base, url


def sign_in(page, base: str, username: str, password: str = "linpu-demo") -> None:
    page.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My grid").wait_for(timeout=60_000)
    # The page hands its token to the route; wait until the browser holds the cookie.
    for _ in range(100):
        if any(c["name"] == "linpu_session" for c in page.context.cookies()):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the sign-in cookie was never set")


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390px", "desktop"])
def test_sign_in_survives_a_reload_in_an_httponly_cookie_without_the_name(browser, app_url, viewport):
    base, _ = app_url
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in(page, base, "leader01")
    cookie = next(c for c in context.cookies() if c["name"] == "linpu_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "leader01" not in cookie["value"]
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name="My grid").wait_for(timeout=60_000)
    context.close()


def test_a_password_change_ends_the_other_browser(browser, app_url):
    base, url = app_url
    other = browser.new_context(viewport=DESK)
    page = other.new_page()
    sign_in(page, base, "leader02")
    engine = make_engine(url)
    with transaction(engine) as session:
        change_password(session, "leader02", "linpu-demo", "a-new-password")
    engine.dispose()
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    other.close()
