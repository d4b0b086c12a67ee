"""Each role's main path in headless Chromium, offline, on a private copy of the demo.

One app per module (it writes, so it runs on its own database copy); each
test opens its own page.  Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import select

from governance.db import make_engine, session_factory
from governance.models import Case, Grid
from tests.conftest import running_app

pytestmark = pytest.mark.browser

WAIT = 90_000
PASSWORD = "linpu-demo"
INJECTION = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def role_db(demo_database, tmp_path_factory) -> str:
    target = tmp_path_factory.mktemp("roles") / "roles.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def role_app(role_db, tmp_path_factory):
    log = tmp_path_factory.mktemp("roles-app") / "streamlit.log"
    with running_app(role_db, log, extra_env={"LINPU_DEMO_MODE": "true"}) as url:
        yield url


def open_page(browser, width=1400, height=1000):
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    page.set_default_timeout(WAIT)
    hosts: set[str] = set()
    dialogs: list[str] = []
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page, hosts, dialogs


def sign_in(page, base: str, username: str, *, lang: str = "en") -> None:
    page.goto(f"{base}/?lang={lang}", wait_until="domcontentloaded")
    page.get_by_role("textbox", name="User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def settle(page) -> None:
    """Wait until the app has finished its current run (the running indicator is gone)."""
    page.wait_for_timeout(600)  # a just-triggered rerun shows its indicator after a moment
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached")


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox whose label contains ``label`` (type it, click it).

    Retried: a rerun that lands while the list is open closes it.
    """
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label)
    for attempt in range(4):
        settle(page)
        if option in box.inner_text() or box.locator("input").input_value() == option:
            return  # already chosen
        box.locator("input").click()
        box.locator("input").fill(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=15_000)
        except Exception:
            if attempt == 3:
                raise
            page.keyboard.press("Escape")
            continue
        settle(page)
        return


def offline(hosts: set[str]) -> bool:
    return hosts <= {"127.0.0.1", "localhost", ""}


def test_login_refuses_a_wrong_password_in_the_browser(role_app, browser, tmp_path):
    page, hosts, _ = open_page(browser)
    page.goto(f"{role_app}/?lang=en", wait_until="domcontentloaded")
    page.get_by_text("Demo accounts").wait_for()
    page.get_by_role("textbox", name="User name").fill("supervisor2")
    page.get_by_role("textbox", name="Password").fill("nope")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("The user name or password is not correct.").wait_for()
    page.screenshot(path=str(tmp_path / "login-refused.png"))
    assert offline(hosts), hosts
    page.close()


def test_grid_leader_on_a_phone_files_a_case_and_moves_it(role_app, role_db, browser, tmp_path):
    page, hosts, dialogs = open_page(browser, width=390, height=844)
    sign_in(page, role_app, "leader01")
    page.get_by_role("heading", name="My grid").wait_for()
    frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']").first
    frame.locator(".leaflet-container").wait_for()
    frame.get_by_text("Grid status (worst open case)").wait_for()
    page.screenshot(path=str(tmp_path / "leader-390.png"))

    # A click in the map's corner, off the grid: refused in words, nothing chosen.
    box = frame.locator(".leaflet-container").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 12, box["y"] + 12)
    page.get_by_text("That point is outside your grid; choose a point inside it.").wait_for()
    # Click inside the grid on the map once the refusal's rerun is over (it moves the map): the point is taken.
    settle(page)
    box = frame.locator(".leaflet-container").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text(re.compile(r"^Chosen point")).wait_for()
    assert page.get_by_text("outside your grid").count() == 0

    # File a patrol finding at a shop, titled with an injection attempt.
    page.get_by_role("tab", name="Report").click()
    page.get_by_text("Pick a shop").first.wait_for()
    page.locator("[data-testid='stSelectbox']").filter(has_text="Shop").first.click()
    page.get_by_role("option").first.click()
    page.get_by_role("textbox", name="Title").fill(INJECTION)
    page.get_by_role("textbox", name="Description").fill("exit blocked by crates")
    page.get_by_role("button", name="Submit").click()
    page.get_by_text(re.compile(r"Case .* filed")).wait_for()

    engine = make_engine(role_db)
    with session_factory(engine)() as session:
        case_no = session.scalar(select(Case.case_no).where(Case.title == INJECTION))
    assert case_no

    # It is on the map (a tooltip shows the title as text) and in the case list.
    page.get_by_role("tab", name="My cases").click()
    page.locator(".linpu-card-title:visible", has_text=INJECTION).first.wait_for()
    # Its card opens it at its next step; the case view stays open through the steps.
    # Each click waits for the run before it: a button redrawn by a rerun loses the click.
    settle(page)
    page.locator("button:visible", has_text=f"Open {case_no}").first.click()
    for action, label in (("take_on", "Take on"), ("resolve", "Resolved, to follow-up"),
                          ("confirm", "Follow-up confirmed, close")):
        settle(page)
        # The radio option, not a table cell or timeline entry that may carry the same words.
        page.get_by_role("radiogroup").get_by_text(label, exact=True).click()
        page.get_by_role("textbox", name=re.compile("Note")).fill(f"{action} done")
        if action == "resolve":  # a safety case (electricity) with no after photo: the reason
            page.get_by_role("textbox", name="Reason there is no after photo").fill("photo taken by the merchant")
        page.get_by_role("button", name="Apply").click()
        page.get_by_text(f"Case {case_no}: {label};").wait_for()
    with session_factory(engine)() as session:
        assert str(session.scalar(select(Case.state).where(Case.case_no == case_no))) == "closed"
    engine.dispose()
    page.screenshot(path=str(tmp_path / "leader-after.png"), full_page=True)
    assert not dialogs, dialogs
    assert offline(hosts), hosts
    page.close()


def test_supervisor_sees_the_district_on_deck_gl_offline_and_opens_a_grid(role_app, role_db, browser, tmp_path):
    page, hosts, dialogs = open_page(browser)
    sign_in(page, role_app, "supervisor1")
    page.get_by_role("heading", name="District supervision").wait_for()
    deck = page.locator("[data-testid='stDeckGlJsonChart']")
    deck.wait_for()
    canvas = deck.locator("canvas").first
    canvas.wait_for()
    # deck.gl drew something: the canvas is not blank.
    page.wait_for_function(
        """() => { const c = document.querySelector("[data-testid='stDeckGlJsonChart'] canvas");
                   return c && c.width > 100 && c.height > 100; }"""
    )
    # deck.gl alone: no basemap library started (it would cost a second WebGL context).
    assert page.locator(".maplibregl-map, .mapboxgl-map").count() == 0
    page.get_by_text("Grid status (worst open case)").wait_for()
    page.get_by_text(re.compile("Getis-Ord Gi")).wait_for()
    ranking = page.locator("[data-testid='stDataFrame']").first
    ranking.wait_for()
    # The ranking table lists the demo's own grid codes (glide-data-grid keeps an
    # accessible copy of the rows it draws).
    engine = make_engine(role_db)
    with session_factory(engine)() as session:
        stored_codes = set(session.scalars(select(Grid.code)))
    engine.dispose()
    ranking.locator("td[role='gridcell']").filter(has_text=re.compile(r"^G\d{3}$")).first.wait_for(
        state="attached"
    )
    shown_codes = set(ranking.locator("td[role='gridcell']").evaluate_all(
        "cells => cells.map(c => c.textContent).filter(t => /^G\\d{3}$/.test(t))"
    ))
    assert len(shown_codes) >= 5 and shown_codes <= stored_codes, shown_codes
    page.screenshot(path=str(tmp_path / "supervisor.png"))

    # Clicking a grid on the map opens its detail.
    box = canvas.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator(".deck-tooltip").filter(has_text=re.compile(r"^G\d+"))
    team = page.get_by_text("Team", exact=True)
    chosen = page.locator("[data-testid='stSelectbox']").filter(has_text="Choose a grid").locator("input")
    for _attempt in range(3):
        settle(page)
        # deck.gl picks once its layers are on the GPU: hover until the tooltip shows, then
        # click once. Clicked again only when no grid was chosen: a click that lands while
        # a rerun redraws the map is lost, and a second click on a chosen grid deselects it.
        page.mouse.move(centre[0] - 40, centre[1] - 40)
        page.mouse.move(*centre)
        tooltip.wait_for()
        # Plain text, one line each: code, worst state, counts.
        assert re.match(r"G\d+\n\S", tooltip.inner_text()), tooltip.inner_text()
        page.mouse.click(*centre)
        try:
            team.wait_for(timeout=30_000)
            break
        except PlaywrightTimeoutError:
            if chosen.input_value():
                break  # chosen, only slow to draw: wait below without clicking again
    team.wait_for()
    assert re.fullmatch(r"G\d+", chosen.input_value())

    # Or from the selector.
    engine = make_engine(role_db)
    with session_factory(engine)() as session:
        code = session.scalar(select(Grid.code).order_by(Grid.code))
    engine.dispose()
    choose(page, "Choose a grid", code)
    page.get_by_text("Team", exact=True).wait_for()
    page.screenshot(path=str(tmp_path / "supervisor-grid.png"), full_page=True)
    assert not dialogs
    assert offline(hosts), hosts
    page.close()


def test_supervisor_map_loads_the_streets_by_url_once_and_the_browser_keeps_them(role_app, browser, tmp_path):
    """The district's streets are not in the deck the app sends: deck.gl fetches them from
    the app's route (signed in, 200, kept for a year), and the next visit takes the kept copy."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    layers: list = []  # the layer files that came over the network
    frames: list[bytes] = []  # what the app sent over its websocket
    context.on("response", lambda r: layers.append(r) if "/linpu/layers/" in r.url else None)
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes) else payload.encode())))
    streets_drawn = """() => performance.getEntriesByType("resource").some(
        e => e.name.includes("/linpu/layers/streets.json?v=") && e.responseEnd > 0)"""

    sign_in(page, role_app, "supervisor1")
    page.get_by_role("heading", name="District supervision").wait_for()
    page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for()
    settle(page)
    # A new visit in the same browser: the session starts with the sign-in cookie, so the
    # deck names the layer files (right after signing in it may carry the rows once).
    frames.clear()
    page.goto(f"{role_app}/?lang=en", wait_until="domcontentloaded")
    page.get_by_role("heading", name="District supervision").wait_for()
    page.wait_for_function(streets_drawn)
    settle(page)
    sent = b"".join(frames)
    assert b"/linpu/layers/streets.json?v=" in sent and b"/linpu/layers/boundary.json?v=" in sent
    assert b'"path":[[' not in sent  # no street or boundary row travelled with the deck
    streets = [r for r in layers if "/linpu/layers/streets.json" in r.url]
    assert streets, [r.url for r in layers]
    first = streets[0]
    assert first.status == 200, first.status
    assert first.all_headers()["cache-control"] == "private, max-age=31536000, immutable"
    rows = first.json()
    assert len(rows) > 10 and {"path", "color", "width"} == set(rows[0])
    assert all(len(str(x).partition(".")[2]) <= 5 for x in rows[0]["path"][0])  # 1 m is what the map shows
    assert page.get_by_text("Page not found").count() == 0
    page.screenshot(path=str(tmp_path / "supervisor-by-url.png"))

    # And again: the browser uses its kept copy, nothing crosses the network for it.
    page.goto(f"{role_app}/?lang=en", wait_until="domcontentloaded")
    page.get_by_role("heading", name="District supervision").wait_for()
    page.wait_for_function(streets_drawn)
    kept = page.evaluate("""() => performance.getEntriesByType("resource")
        .filter(e => e.name.includes("/linpu/layers/streets.json?v="))
        .map(e => [e.transferSize, e.decodedBodySize])""")
    assert kept and all(transfer == 0 and size > 0 for transfer, size in kept), kept
    settle(page)
    # Never refused: the deck names the files only once the browser holds the cookie.
    assert all(r.status == 200 for r in layers), [(r.url, r.status) for r in layers]
    context.close()


def test_the_first_filter_change_after_signing_in_keeps_the_map_it_drew(role_app, browser):
    """The run after a sign-in lays the page out as the sign-in's own run did, so the
    browser keeps what it drew: deck.gl's canvas and its WebGL context, whose shaders
    take seconds to build again on a phone or a software renderer."""
    page, _, _ = open_page(browser)
    sign_in(page, role_app, "supervisor1")
    page.get_by_role("heading", name="District supervision").wait_for()
    canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
    canvas.wait_for()
    settle(page)
    canvas.evaluate("c => { c.dataset.linpuMark = 'drawn-at-sign-in'; }")
    categories = page.locator("[data-testid='stMultiSelect']").filter(has_text="Categories")
    categories.locator("input").click()
    page.get_by_role("option", name="Gas", exact=True).click()
    page.keyboard.press("Escape")
    categories.get_by_text("Gas", exact=True).wait_for()
    settle(page)
    page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for()
    kept = page.locator("[data-testid='stDeckGlJsonChart'] canvas[data-linpu-mark='drawn-at-sign-in']")
    assert kept.count() == 1
    page.close()


def test_analyst_downloads_a_geopackage_that_geopandas_opens(role_app, browser, tmp_path):
    import geopandas as gpd

    page, hosts, _ = open_page(browser)
    sign_in(page, role_app, "analyst1")
    page.get_by_role("heading", name="Analysis and exports").wait_for()
    page.get_by_role("button", name="Prepare the files").click()
    button = page.get_by_role("button", name=re.compile(r"Download .*\.gpkg"))
    button.wait_for()
    with page.expect_download() as download_info:
        button.click()
    path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(path)
    grids = gpd.read_file(path, layer="grids")
    cases = gpd.read_file(path, layer="cases")
    assert len(grids) > 0 and len(cases) > 0 and grids.crs.to_epsg() == 4326
    page.screenshot(path=str(tmp_path / "analyst.png"))
    assert offline(hosts), hosts
    page.close()


def test_injected_title_is_text_everywhere_for_the_supervisor(role_app, role_db, browser, tmp_path):
    """A case titled like an HTML tag is shown as text; no script runs, no dialog opens."""
    from governance import workflow
    from governance.db import transaction
    from governance.grids import current_grids
    from governance.permissions import viewer_for

    engine = make_engine(role_db)
    with session_factory(engine)() as session:
        code = session.scalar(select(Grid.code).order_by(Grid.code))
    with transaction(engine) as session:
        viewer = viewer_for(session, "supervisor1")
        grids = current_grids(session, viewer)
        point = grids.loc[grids["code"] == code, "geometry"].iloc[0].representative_point()
        lon, lat = point.x, point.y
        case = workflow.file_case(session, viewer, kind="patrol", category="other", severity="low",
                                  title=INJECTION, description=INJECTION, lon=lon, lat=lat)
        session.flush()
        case_no = case.case_no
    engine.dispose()

    page, hosts, dialogs = open_page(browser)
    sign_in(page, role_app, "supervisor1")
    page.get_by_role("heading", name="District supervision").wait_for()
    choose(page, "Choose a grid", code)
    page.get_by_role("gridcell", name=INJECTION, include_hidden=True).first.wait_for(state="attached")
    choose(page, "Choose a case", case_no)
    page.get_by_text("Timeline").wait_for()
    page.screenshot(path=str(tmp_path / "injection.png"), full_page=True)
    assert page.locator("img[src='x']").count() == 0
    assert not dialogs, dialogs
    assert offline(hosts), hosts
    page.close()


def test_analyst_upload_shows_row_errors_before_anything_is_written(role_app, role_db, browser, tmp_path):
    """A register with swapped coordinates: the page lists the row, the field and the fix; no shop
    is written."""
    from governance.models import Shop

    register = tmp_path / "register.csv"
    shutil.copy(Path(__file__).with_name("data") / "bad" / "swapped_coordinates.csv", register)
    engine = make_engine(role_db)
    with session_factory(engine)() as session:
        shops_before = session.scalars(select(Shop.shop_code)).all()
    page, hosts, _ = open_page(browser)
    sign_in(page, role_app, "analyst1")
    page.get_by_role("heading", name="Analysis and exports").wait_for()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(register))
    page.get_by_role("button", name="Validate").click()
    page.get_by_text(re.compile(r"\d+ problems found; nothing was written")).wait_for()
    table = page.locator("[data-testid='stDataFrame']").last
    table.locator("td[role='gridcell']").filter(has_text="look swapped").first.wait_for(state="attached")
    cells = table.locator("td[role='gridcell']").evaluate_all("cells => cells.map(c => c.textContent)")
    assert "lon" in cells and any("longitude 25.1167 and latitude 118.9 look swapped" in c for c in cells), cells
    assert page.get_by_role("button", name="Write to the database").count() == 0
    page.screenshot(path=str(tmp_path / "analyst-upload.png"), full_page=True)
    with session_factory(engine)() as session:
        assert session.scalars(select(Shop.shop_code)).all() == shops_before
    engine.dispose()
    assert offline(hosts), hosts
    page.close()


@pytest.mark.parametrize(("photo", "refusal"), [
    ("exit.png", "File “exit.png” is not a JPEG, PNG or WebP image; nothing was saved."),
    ("big.jpg", "Photo “big.jpg” is larger than 8 MB; nothing was saved."),
], ids=["not-an-image", "too-large"])
def test_leader_photo_that_is_not_an_image_or_too_large_is_refused_and_the_form_kept(
    role_app, role_db, browser, tmp_path, photo, refusal
):
    fake = tmp_path / photo
    if photo == "big.jpg":  # a real JPEG header, then past the default 8 MB limit
        fake.write_bytes(b"\xff\xd8\xff\xe0" + bytes(8 * 1024 * 1024 + 1))
    else:
        fake.write_text("<script>alert(1)</script> not a picture")
    title = f"Fire exit blocked, photo {photo} attached"
    page, hosts, dialogs = open_page(browser, width=390, height=844)
    sign_in(page, role_app, "leader01")
    page.get_by_role("heading", name="My grid").wait_for()
    page.get_by_role("tab", name="Report").click()
    page.get_by_text("Pick a shop").first.wait_for()
    page.locator("[data-testid='stSelectbox']").filter(has_text="Shop").first.click()
    page.get_by_role("option").first.click()
    page.get_by_role("textbox", name="Title").fill(title)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(fake))
    page.get_by_text(photo).wait_for()
    page.get_by_role("button", name="Submit").click()
    page.get_by_text(refusal).wait_for()
    assert page.get_by_role("textbox", name="Title").input_value() == title
    page.screenshot(path=str(tmp_path / f"leader-refused-{photo}.png"), full_page=True)
    engine = make_engine(role_db)
    with session_factory(engine)() as session:
        assert session.scalar(select(Case.id).where(Case.title == title)) is None
    engine.dispose()
    assert not dialogs, dialogs
    assert offline(hosts), hosts
    page.close()
