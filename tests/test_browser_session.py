"""Signing in from a phone or a desk in headless Chromium: the sign-in outlives a reload,
lives in an HttpOnly cookie holding no name, and ends everywhere on sign-out or a password change."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from governance.db import make_engine, transaction
from governance.login import change_password, reset_password
from governance.models import User, WebSession
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


def sign_in(page, base: str, username: str, password: str = "linpu-demo", landing: str = "My grid") -> None:
    page.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=landing).wait_for(timeout=60_000)
    # The page hands its token to the route; wait until the browser holds the cookie.
    for _ in range(100):
        if any(c["name"] == "linpu_session" for c in page.context.cookies()):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the sign-in cookie was never set")


def in_database(url: str, work) -> None:
    """Run ``work(session)`` in one transaction on the app's database, as another process would."""
    engine = make_engine(url)
    with transaction(engine) as session:
        work(session)
    engine.dispose()


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
    in_database(url, lambda session: change_password(session, "leader02", "linpu-demo", "a-new-password"))
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    other.close()


def test_sign_out_then_the_back_button_shows_the_sign_in_page(browser, app_url):
    """The page left behind by the back button (here /analyst) no longer exists once signed
    out; it shows the sign-in page, not the analyst's page nor Streamlit's "page not found"."""
    base, _ = app_url
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    sign_in(page, base, "supervisor1", landing="District supervision")
    page.get_by_role("link", name="Analysis and exports").click()
    page.get_by_role("heading", name="Analysis and exports").wait_for(timeout=60_000)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    page.get_by_text("You are signed out.").wait_for(timeout=30_000)
    page.go_back(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    page.go_forward(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Analysis and exports").count() == 0
    assert page.get_by_text("Page not found").count() == 0
    # Nor does a reload of that address bring the sign-in back: the cookie is gone.
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    assert not any(c["name"] == "linpu_session" for c in context.cookies())
    # Signing in again from that address opens the page it names.
    page.get_by_label("User name").fill("supervisor1")
    page.get_by_label("Password", exact=True).fill("linpu-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Analysis and exports").wait_for(timeout=60_000)
    context.close()


def test_an_idle_sign_in_ends_in_the_sign_in_page_with_a_notice(browser, app_url):
    """Idle past LINPU_SESSION_TIMEOUT_MINUTES (the row aged by two hours): a reload on the
    phone shows the sign-in page saying why, and the old token no longer signs in."""
    base, url = app_url
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, "leader03")

    def age(session) -> None:
        user_id = session.query(User.id).filter(User.username == "leader03").scalar()
        session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                        .values(last_seen_at=datetime.now(UTC) - timedelta(hours=2)))

    in_database(url, age)
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    page.get_by_text("timed out after 30 minutes without activity").wait_for(timeout=30_000)
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="My grid").count() == 0
    context.close()


def test_a_restored_tab_is_still_signed_in(browser, app_url):
    """The phone drops the tab (closed) and brings it back (a new tab of the same browser at
    the same address): still signed in, no password asked."""
    base, _ = app_url
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, "leader04")
    address = page.url
    page.close()
    restored = context.new_page()
    restored.goto(address, wait_until="domcontentloaded")
    restored.get_by_role("heading", name="My grid").wait_for(timeout=60_000)
    assert restored.get_by_role("heading", name=SIGN_IN).count() == 0
    context.close()


def test_an_admins_reset_ends_the_sign_in_in_another_browser(browser, app_url):
    base, url = app_url
    leader = browser.new_context(viewport=PHONE)
    page = leader.new_page()
    sign_in(page, base, "leader05")

    def reset(session) -> None:
        admin = session.scalar(select(User).where(User.username == "admin"))
        reset_password(session, admin, "leader05")

    in_database(url, reset)
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="My grid").count() == 0
    leader.close()


def test_signing_out_in_one_tab_ends_the_sign_in_of_another_tab(browser, app_url):
    base, _ = app_url
    context = browser.new_context(viewport=DESK)
    first = context.new_page()
    sign_in(first, base, "leader06")
    second = context.new_page()
    second.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
    second.get_by_role("heading", name="My grid").wait_for(timeout=60_000)  # signed in by the cookie
    first.get_by_role("button", name="Sign out").click()
    first.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    second.reload(wait_until="domcontentloaded")
    second.get_by_role("heading", name=SIGN_IN).wait_for(timeout=60_000)
    assert second.get_by_role("heading", name="My grid").count() == 0
    context.close()
