"""Before and after in Chromium: the leader resolves a fire-exit case with a photo from the phone; the
stored photo has no GPS, the next step does not attach it again, and the case shows before and after."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from governance.db import make_engine, session_factory, transaction
from governance.models import Attachment, CaseHistory, Grid, Shop
from governance.permissions import viewer_for
from governance.workflow import file_case, transition
from tests.conftest import running_app
from tests.test_browser_roles import open_page, settle, sign_in
from tests.test_photos import _photo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def photo_world(demo_database, tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    target = root / "photos.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    var = root / "var"
    with running_app(url, root / "streamlit.log",
                     extra_env={"LINPU_DEMO_MODE": "true", "LINPU_VAR_DIR": str(var)}) as app_url:
        yield url, app_url, var


def test_leader_resolves_a_fire_exit_case_with_an_after_photo_and_sees_before_and_after(
        photo_world, browser, tmp_path, monkeypatch):
    db_url, app_url, var = photo_world
    monkeypatch.setenv("LINPU_VAR_DIR", str(var))
    from governance.settings import get_settings  # noqa: PLC0415 (cleared after the variable is set)

    get_settings.cache_clear()
    engine = make_engine(db_url)
    with transaction(engine) as session:
        shop = session.scalar(select(Shop).join(Grid, Grid.id == Shop.grid_id).where(Grid.code == "G001")
                              .order_by(Shop.shop_code))
        leader = viewer_for(session, "leader01")
        case = file_case(session, leader, kind="patrol", category="fire_exit", severity="high", title="通道堆放纸箱",
                         lon=shop.geometry.x, lat=shop.geometry.y, shop_code=shop.shop_code,
                         attachments=[("before.jpg", "", _photo("JPEG", colour="red"))])
        transition(session, leader, case.id, "take_on", expected_version=1)
        case_id, case_no = case.id, case.case_no
    get_settings.cache_clear()
    after = tmp_path / "after.jpg"
    after.write_bytes(_photo("JPEG", colour="green"))

    page, hosts, dialogs = open_page(browser, width=390, height=844)
    sign_in(page, app_url, "leader01")
    page.get_by_role("heading", name="My grid").wait_for()
    page.goto(f"{app_url}/?lang=en&case={case_no}", wait_until="domcontentloaded")
    page.get_by_role("tab", name="My cases").click()
    settle(page)
    form = page.locator("[data-testid='stForm']").filter(has_text="Apply")
    form.get_by_role("radiogroup").get_by_text("Resolved, to follow-up", exact=True).click()
    form.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(after))
    page.get_by_text("after.jpg").first.wait_for()
    form.get_by_role("button", name="Apply").click()
    page.get_by_text(f"Case {case_no}: Resolved, to follow-up;").wait_for()
    form.get_by_role("radiogroup").get_by_text("Follow-up confirmed, close", exact=True).click()
    form.get_by_role("button", name="Apply").click()
    page.get_by_text(f"Case {case_no}: Follow-up confirmed, close;").wait_for()
    settle(page)
    page.get_by_text("Before · Raised").first.wait_for()
    pair = [page.get_by_text(text).first.bounding_box() for text in ("Before · Raised", "After · Resolved")]
    assert pair[0]["y"] == pytest.approx(pair[1]["y"], abs=2) and pair[0]["x"] < pair[1]["x"]  # side by side
    page.screenshot(path=str(tmp_path / "before-after.png"), full_page=True)

    with session_factory(engine)() as session:
        rows = session.execute(select(CaseHistory.action, Attachment).join(Attachment, Attachment.history_id == CaseHistory.id)
                               .where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq)).all()
    engine.dispose()
    assert [action for action, _ in rows] == ["raise", "resolve"]  # nothing attached again at confirm
    stored = Image.open(var / "attachments" / rows[1][1].sha256[:2] / rows[1][1].sha256)
    assert not stored.getexif() and stored.size == (20, 40)
    assert re.fullmatch(r"[0-9a-f]{64}", rows[1][1].sha256)
    assert not dialogs, dialogs
