"""Injection: user text is stored as given and shown as text; names and filters stay inert (issue 7).

Payloads carry HTML, JavaScript, Markdown and SQL meta-characters.  They go
into every field the UI shows (case title, history note, shop name through
``linpu``'s ingest, grid member name through ``add_user``) and are:

- stored exactly as given (read back from the database);
- shown as literal text in a real browser (Debian Chromium through
  Playwright): the supervisor's grid detail (team, shops, cases, timeline)
  and the grid leader's page (today's list, cases, and every tooltip of the
  folium map opened programmatically inside its iframe); no dialog fires
  and no injected element appears;
- attachment names cannot escape the attachment folder (files are stored by
  content hash; the name is only a column);
- filter values reach SQL only as bound parameters: an unknown category is
  a ValidationError, a grid code of ``x' OR '1'='1`` matches nothing, and
  the literal never appears in any SQL statement text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import event, select

from governance import loop_summary, queries
from governance.attachments import attachment_path, attachment_root, store_attachment
from governance.db import make_engine, transaction
from governance.errors import ValidationError
from governance.filters import CaseFilter
from governance.grids import current_grids
from governance.login import BadCredentials, sign_in
from governance.models import Attachment, Case, CaseHistory, GridMember, Shop
from governance.permissions import viewer_for
from governance.settings import get_settings
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case, transition
from pipelines.export import export_bytes
from pipelines.ingest import ingest_shops
from tests.conftest import running_app

HTML = "<img src=x onerror=alert('html')>"
SCRIPT = '<script>alert("js")</script>'
MARKDOWN = "**bold** _it_ [link](javascript:alert(3)) ![x](x) `code` # h1"
SQL = "x' OR '1'='1'; DROP TABLE cases;--"
MIXED = "\"><svg onload=alert(4)>&amp;{{7*7}}${7*7}"
PAYLOADS = {"title": HTML, "note": SCRIPT, "shop": MARKDOWN + " " + SQL, "member": MIXED}
#: A real 1×1 PNG: stored photos are read with Pillow (governance.attachments).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
       b"\x0cIDATx\x9cc8!'\x07\x00\x02\xb6\x01\x054\xa6u\xaa\x00\x00\x00\x00IEND\xaeB`\x82")
WAIT = 90_000


def _plant(engine, grid_code: str, leader: str, *, shop_xy: tuple[float, float]) -> dict:
    """Put every payload where the UI shows it, in ``grid_code``; return the ids."""
    with transaction(engine) as session:
        viewer = viewer_for(session, leader)
        case = file_case(session, viewer, kind="patrol", category="other", severity="low",
                         title=PAYLOADS["title"], description=SQL + MARKDOWN,
                         lon=shop_xy[0], lat=shop_xy[1])
        case_id, case_no = case.id, case.case_no
    with transaction(engine) as session:
        transition(session, viewer, case_id, "take_on", expected_version=1, note=PAYLOADS["note"])
    return {"case_id": case_id, "case_no": case_no}


def _plant_shop_and_member(engine, tmp_path: Path, grid_code: str, xy) -> None:
    register = tmp_path / "one-shop.csv"
    pd.DataFrame({"shop_id": ["INJ001"], "name": [PAYLOADS["shop"]], "trade": ["retail"],
                  "lon": [xy[0]], "lat": [xy[1]]}).to_csv(register, index=False)
    report = ingest_shops(engine, register, close_missing=False)
    assert not report.problems, report.problem_lines()
    from pipelines.users import add_user

    add_user(engine, username="inj_member", password="member-password-123", role="grid_leader",
             display_name=PAYLOADS["member"], grid_codes=(grid_code,))


def _stored(engine, ids) -> dict:
    with transaction(engine) as session:
        case = session.get(Case, ids["case_id"])
        note = session.scalar(select(CaseHistory.note).where(CaseHistory.case_id == case.id, CaseHistory.seq == 2))
        return {
            "title": case.title, "description": case.description, "note": note,
            "shop": session.scalar(select(Shop.name).where(Shop.shop_code == "INJ001")),
            "member": session.scalar(select(GridMember.name).where(GridMember.name == PAYLOADS["member"])),
        }


def test_payloads_are_stored_exactly_as_given(engine, tmp_path):
    district = seed_small_district(engine)
    ids = _plant(engine, "G001", "leader1", shop_xy=IN_G001)
    _plant_shop_and_member(engine, tmp_path, "G001", (IN_G001[0] + 0.001, IN_G001[1]))
    stored = _stored(engine, ids)
    assert stored == {"title": PAYLOADS["title"], "description": SQL + MARKDOWN, "note": PAYLOADS["note"],
                      "shop": PAYLOADS["shop"], "member": PAYLOADS["member"]}
    assert district  # the tables the SQL payload names are still there
    with transaction(engine) as session:
        assert session.scalar(select(Case.id).limit(1)) is not None


# --- attachments -----------------------------------------------------------------

EVIL_NAMES = ["../../../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow", "photo.png%00.sh",
              "a/../../b.png", "~/.ssh/id_rsa", "CON", "x" * 1000, "<img src=x onerror=alert(1)>.png",
              "/vsicurl/http://127.0.0.1/x.png"]


def test_attachment_names_cannot_escape_the_attachment_folder(engine, tmp_path, monkeypatch):
    var = tmp_path / "var"
    monkeypatch.setenv("LINPU_VAR_DIR", str(var))
    get_settings.cache_clear()
    try:
        seed_small_district(engine)
        with transaction(engine) as session:
            viewer = viewer_for(session, "leader1")
            case_id = file_case(session, viewer, kind="patrol", category="gas", severity="low", title="t",
                                lon=IN_G001[0], lat=IN_G001[1]).id
        before = {p for p in tmp_path.rglob("*")}
        root = attachment_root().resolve()
        for i, name in enumerate(EVIL_NAMES):
            data = PNG + bytes([i])
            with transaction(engine) as session:
                row = store_attachment(session, viewer, case_id, filename=name, content_type="image/png", data=data)
                path = attachment_path(row).resolve()
                assert path.is_relative_to(root), (name, path)
                assert path.name == row.sha256 and path.read_bytes() == data
                assert row.original_name == name[:255]
        created = {p for p in tmp_path.rglob("*")} - before
        assert all(p.resolve().is_relative_to(root) or p.resolve() in root.parents or p.resolve() == root
                   for p in created), sorted(map(str, created))
        assert not Path("/etc/passwd.png").exists()
        with transaction(engine) as session:
            assert session.scalar(select(Attachment.id).where(Attachment.original_name == EVIL_NAMES[0]))
    finally:
        get_settings.cache_clear()


def test_a_nul_byte_in_user_text_is_refused_with_a_domain_error_naming_the_field(engine, tmp_path, monkeypatch):
    """A NUL (from a crafted upload name or form post) is refused alike on SQLite and PostGIS,
    with a message naming the field, never surfacing as a raw database error."""
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        seed_small_district(engine)
        attempts = {
            "title": lambda s, v: file_case(s, v, kind="patrol", category="gas", severity="low", title="a\x00b",
                                            lon=IN_G001[0], lat=IN_G001[1]),
            "note": lambda s, v: transition(s, v, file_case(s, v, kind="patrol", category="gas", severity="low",
                                                            title="t", lon=IN_G001[0], lat=IN_G001[1]).id,
                                            "take_on", expected_version=1, note="x\x00y"),
            "attachment name": lambda s, v: store_attachment(
                s, v, file_case(s, v, kind="patrol", category="gas", severity="low", title="t",
                                lon=IN_G001[0], lat=IN_G001[1]).id,
                filename="photo.png\x00.sh", content_type="image/png", data=PNG),
        }
        raw, refused = [], []
        for field, attempt in attempts.items():
            try:
                with transaction(engine) as session:
                    attempt(session, viewer_for(session, "leader1"))
            except ValidationError as exc:
                assert "NUL" in str(exc), (field, str(exc))
                refused.append(field)
            except Exception as exc:  # a raw database error reaches the user
                raw.append(f"{field}: {type(exc).__name__}")
        assert not raw, raw
        assert refused == list(attempts), refused
    finally:
        get_settings.cache_clear()


# --- filters reach SQL only as bound parameters ----------------------------------------


@pytest.fixture
def statements(engine):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_filter_values_are_validated_or_bound(engine, statements):
    seed_small_district(engine)
    with pytest.raises(ValidationError):
        CaseFilter(categories=("x' OR '1'='1",))
    with pytest.raises(ValidationError):
        CaseFilter(states=("closed' --",))
    with transaction(engine) as session:
        viewer = viewer_for(session, "supervisor")
        file_case(session, viewer, kind="patrol", category="gas", severity="low", title="t",
                  lon=IN_G001[0], lat=IN_G001[1])
    evil = CaseFilter(grid_codes=("x' OR '1'='1", "G001' --"))
    with transaction(engine) as session:
        viewer = viewer_for(session, "supervisor")
        assert queries.cases_frame(session, viewer, filters=evil).empty
        assert loop_summary.grid_loop_summary(session, viewer, filters=evil).empty
        assert queries.checks_frame(session, viewer, filters=evil).empty
        assert len(queries.cases_frame(session, viewer, filters=CaseFilter(grid_codes=("G001",)))) == 1
    with pytest.raises(ValidationError):
        export_bytes(engine, layers=["cases"], fmt="geojson", filters=CaseFilter(categories=("x' OR '1'='1",)))
    _, data, _ = export_bytes(engine, layers=["cases"], fmt="geojson",
                              filters=CaseFilter(grid_codes=("x' OR '1'='1",)))
    assert json.loads(data)["features"] == []
    with transaction(engine) as session, pytest.raises(BadCredentials):
        sign_in(session, "admin' --", "x' OR '1'='1")
    assert statements
    assert not [s for s in statements if "'1'='1" in s or "admin' --" in s or "G001' --" in s]


# --- in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def injected(demo_database, tmp_path_factory):
    """A copy of the demo with every payload planted in leader01's first grid, and the app on it."""
    folder = tmp_path_factory.mktemp("injection")
    target = folder / "injection.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    engine = make_engine(url)
    with transaction(engine) as session:
        viewer = viewer_for(session, "leader01")
        grids = current_grids(session, viewer)
    code = grids["code"].iloc[0]
    inside = grids.loc[grids["code"] == code, "geometry"].iloc[0].representative_point()
    _plant_shop_and_member(engine, folder, code, (inside.x, inside.y))
    ids = {**_plant(engine, code, "leader01", shop_xy=(inside.x, inside.y)), "database_url": url}
    assert _stored(engine, ids)["title"] == PAYLOADS["title"]
    engine.dispose()
    with running_app(url, folder / "streamlit.log", extra_env={"LINPU_DEMO_MODE": "true"}) as base:
        yield base, code, ids


def _page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(WAIT)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page, dialogs


def _no_injected_elements(page) -> None:
    for frame in page.frames:
        assert frame.locator("img[src='x']").count() == 0, frame.url
        assert frame.locator("svg[onload]").count() == 0, frame.url
        assert frame.locator("script:text('alert(\"js\")')").count() == 0, frame.url


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``: click, type it key by key, take the match."""
    from tests.test_browser_roles import settle

    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label)
    for _ in range(3):  # the page may rerun under the open list; try again then
        settle(page)
        field = box.locator("input")
        field.click()
        field.press("Control+a")
        page.keyboard.type(option, delay=30)
        page.get_by_role("option", name=option, exact=True).wait_for()
        page.keyboard.press("Enter")  # takes the highlighted match; no click on a node that may go away
        settle(page)
        if option in box.inner_text() or field.input_value() == option:
            return
    raise AssertionError(f"could not choose {option!r} in {label!r}")


def _cell(page, text: str):
    page.get_by_role("gridcell", name=text, include_hidden=True).first.wait_for(state="attached")


@pytest.mark.browser
def test_supervisor_sees_every_payload_as_text(injected, browser, tmp_path):
    from tests.test_browser_roles import sign_in

    base, code, ids = injected
    page, dialogs = _page(browser)
    sign_in(page, base, "supervisor1")
    page.get_by_role("heading", name="District supervision").wait_for()
    _choose(page, "Choose a grid", code)
    _cell(page, PAYLOADS["member"])
    _cell(page, PAYLOADS["shop"])
    _cell(page, PAYLOADS["title"])
    _choose(page, "Choose a case", ids["case_no"])
    page.get_by_text("Timeline").wait_for()
    _cell(page, PAYLOADS["note"])
    page.screenshot(path=str(tmp_path / "supervisor-injection.png"), full_page=True)
    _no_injected_elements(page)
    assert not dialogs, dialogs
    page.close()


@pytest.mark.browser
def test_grid_leader_sees_every_payload_as_text_in_tables_and_map_tooltips(injected, browser, tmp_path):
    from tests.test_browser_roles import settle, sign_in

    base, code, ids = injected
    page, dialogs = _page(browser)
    sign_in(page, base, "leader01")
    settle(page)
    # Every tooltip of the folium map, opened inside its iframe.
    frame = None
    for _ in range(120):
        frame = next((f for f in page.frames if f.evaluate(
            "() => Object.keys(window).some(k => k.startsWith('geo_json_'))") ), None) if page.frames else None
        if frame:
            break
        page.wait_for_timeout(500)
    assert frame is not None, "the folium map did not load"
    # folium binds one tooltip to each GeoJSON group; hover every feature in turn.
    texts = frame.evaluate("""() => {
        const texts = [];
        for (const key of Object.keys(window).filter(k => k.startsWith('geo_json_'))) {
            const group = window[key];
            if (!group || typeof group.eachLayer !== 'function' || !group.getTooltip || !group.getTooltip()) continue;
            group.eachLayer(layer => {
                try {
                    const at = layer.getLatLng ? layer.getLatLng() : layer.getBounds().getCenter();
                    layer.fire('mouseover', {latlng: at}, true);  // as a hover would
                    const element = group.getTooltip().getElement();
                    if (element) texts.push(element.innerText);
                } catch (error) { texts.push('ERROR ' + error); }
            });
        }
        return texts;
    }""")
    assert texts, "no tooltip opened"
    assert sum(not t.startswith("ERROR") for t in texts) >= 3, texts[:5]
    tooltips = "\n".join(texts)
    assert PAYLOADS["shop"] in tooltips
    assert PAYLOADS["title"] in tooltips
    page.get_by_role("tab", name="My cases").click()
    settle(page)
    # The cards show the title as text; the table view sits in a collapsed expander.
    page.get_by_text(PAYLOADS["title"]).filter(visible=True).first.wait_for()
    page.get_by_text("As a table").filter(visible=True).first.click()
    settle(page)
    _cell(page, PAYLOADS["title"])
    page.get_by_role("tab", name="Today").click()
    page.screenshot(path=str(tmp_path / "leader-injection.png"), full_page=True)
    _no_injected_elements(page)
    assert not dialogs, dialogs
    page.close()


@pytest.mark.browser
def test_the_public_pages_show_every_payload_as_text(injected, browser, tmp_path):
    """A shop named with every payload, its grid's page, and the public form sent back with payload text."""
    base, code, ids = injected
    engine = make_engine(ids["database_url"])
    evil_name = HTML + SCRIPT + MIXED
    with transaction(engine) as session:
        shop = session.scalar(select(Shop).where(Shop.shop_code == "INJ001"))
        other = session.scalar(select(Shop).where(Shop.grid_id == shop.grid_id, Shop.shop_code != "INJ001",
                                                  Shop.closed_at.is_(None)).order_by(Shop.id))
        other.name = evil_name
        public_ids = (shop.public_id, other.public_id)
    engine.dispose()
    page, dialogs = _page(browser)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/p/s/{public_ids[0]}?lang=en")
    page.get_by_role("heading", name=PAYLOADS["shop"]).wait_for()
    page.goto(f"{base}/p/s/{public_ids[1]}")
    page.get_by_role("heading", name=evil_name).wait_for()
    page.fill("#text", evil_name)
    page.fill("#phone", "not a phone")
    page.get_by_role("button", name="提交").click()
    page.get_by_role("alert").wait_for()
    assert page.input_value("#text") == evil_name
    page.goto(f"{base}/p/g/{code}")
    page.get_by_text(evil_name).wait_for()
    page.get_by_text(PAYLOADS["shop"]).wait_for()
    page.screenshot(path=str(tmp_path / "public-injection.png"), full_page=True)
    _no_injected_elements(page)
    assert not dialogs, dialogs
    # The same public browser asking for a staff page gets the sign-in page and nothing of the district.
    page.goto(f"{base}/supervisor?lang=en")
    page.get_by_role("textbox", name="Password").wait_for()
    assert page.get_by_role("heading", name="District supervision").count() == 0
    page.close()
