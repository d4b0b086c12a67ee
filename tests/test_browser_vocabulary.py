"""One vocabulary in the browser (issue 16): every page, as every demo role, in Chinese.

Each role signs in on a private copy of the demo, opens each page its role
has, and reads the whole page as Chromium holds it (every tab, the tables'
cells and headers): no untranslated i18n key (``col.username``) and no raw
code of a coded value (``in_progress``, ``catering``, ``grid_leader``) may
be in it.
"""

from __future__ import annotations

import re

import pytest

from dashboard.auth import ROLE_PAGES
from dashboard.i18n import CATALOGUE, translate
from governance.catalog import (
    CaseKind,
    CaseState,
    Category,
    MemberRole,
    Outcome,
    Role,
    Severity,
    Trade,
)
from tests.conftest import ROOT, running_app
from tests.test_browser_roles import PASSWORD, choose, open_page, role_db, settle  # noqa: F401 (role_db: a fixture)

pytestmark = pytest.mark.browser

#: The demo's accounts, one per role (the member and the department with a sub-task and orders to show).
ACCOUNTS = {"grid_leader": "leader01", "member": "fire01", "department": "dept_economy", "supervisor": "supervisor1",
            "analyst": "analyst1", "admin": "admin"}
#: A missing value printed by Python or pandas instead of an empty cell.
MISSING = ["None", "nan", "NaT"]
CODES = sorted({m.value for enum in (CaseKind, CaseState, Category, MemberRole, Outcome, Role, Severity, Trade)
                for m in enum})
#: An i18n key left as it is: a known prefix, a dot, a code-like name.
PREFIXES = "|".join(sorted({k.split(".")[0] for k in CATALOGUE}))
KEY = re.compile(rf"\b(?:{PREFIXES})\.[a-z_0-9]+\b")
#: A code as a whole word (not part of an identifier, a file name or an address).
CODE = re.compile(r"(?<![\w./-])(?:" + "|".join(map(re.escape, [*CODES, *MISSING])) + r")(?![\w./-])")

#: The text Chromium holds: the main area with every tab, and the cells and headers tables draw.
READ_PAGE = """() => {
  const main = document.querySelector("[data-testid='stMain']") || document.body;
  const parts = [main.innerText];
  for (const tab of main.querySelectorAll("[data-baseweb='tab-panel'], [role='tabpanel']")) parts.push(tab.textContent);
  for (const cell of main.querySelectorAll("td[role='gridcell'], th[role='columnheader']")) parts.push(cell.textContent);
  for (const option of main.querySelectorAll("[data-testid='stSelectbox'], [data-testid='stMultiSelect']"))
    parts.push(option.textContent);
  return parts.join("\\n");
}"""


@pytest.fixture(scope="module")
def vocab_app(role_db, tmp_path_factory):  # noqa: F811 (role_db is the imported fixture)
    log = tmp_path_factory.mktemp("vocab-app") / "streamlit.log"
    with running_app(role_db, log, extra_env={"LINPU_DEMO_MODE": "true", "LINPU_LANGUAGE": "zh"}) as url:
        yield url


def sign_in_zh(page, base: str, username: str) -> None:
    page.goto(f"{base}/?lang=zh", wait_until="domcontentloaded")
    page.get_by_role("textbox", name="用户名").fill(username)
    page.get_by_role("textbox", name="密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    # Signed in once the form is gone (a page opened before would show the sign-in page again).
    page.get_by_role("textbox", name="密码", exact=True).wait_for(state="detached")


#: File names look like keys (cases.csv); their extensions are not names of keys.
EXTENSIONS = {"csv", "xlsx", "gpkg", "geojson", "zip", "shp", "fgb", "parquet", "kml", "json", "png", "txt"}


#: The demo's user names are names, not codes, though one of them is "admin".
USERNAMES = re.compile(r"(?<![\w.])(?:" + "|".join(
    re.escape(line.split(",")[0]) for line in (ROOT / "data" / "demo" / "users.csv").read_text().splitlines()[1:]
    if line) + r")(?![\w.])")


def problems_in(text: str) -> list[str]:
    text = USERNAMES.sub(" ", text)
    keys = {key for key in KEY.findall(text) if key.rsplit(".", 1)[1] not in EXTENSIONS}
    return sorted(keys | set(CODE.findall(text)))


def test_the_reader_finds_keys_and_codes():
    # The check itself can fail: a key, a code; not a file name, an address or a variable.
    assert problems_in("列 col.username 状态 in_progress，业态 catering，账号 None") == [
        "None", "catering", "col.username", "in_progress"]
    assert problems_in("cases.csv LINPU_SNAP_TO_GRID_M /leader?case=1 G001 预警 操作人 admin") == []


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_every_page_in_chinese_shows_words_not_keys_or_codes(vocab_app, browser, tmp_path, role):
    page, _, _ = open_page(browser)
    sign_in_zh(page, vocab_app, ACCOUNTS[role])
    settle(page)
    found = {}
    for name in ROLE_PAGES[role]:
        # The first page is where the role lands; the others through the navigation, as a user goes
        # (a typed address reloads the app, which then runs its main page).
        if name != ROLE_PAGES[role][0]:
            page.locator("[data-testid='stSidebarNav'] a", has_text=translate(f"nav.{name}", "zh")).click()
            page.wait_for_url(re.compile(rf"/{name}"))
        page.locator("[data-testid='stMain'] h1, [data-testid='stMain'] h2").first.wait_for()
        settle(page)
        assert page.get_by_role("textbox", name="密码", exact=True).count() == 0, f"{name}: the sign-in page, not the page"
        if name == "supervisor":  # a grid's detail: its team and its shop table
            choose(page, "选择网格", "G001")
            page.get_by_text("网格团队").first.wait_for()
            settle(page)
        page.wait_for_timeout(1500)  # tables draw their cells after the run
        text = page.evaluate(READ_PAGE)
        assert re.search(r"[\u4e00-\u9fff]", text), f"{name} is not in Chinese"
        page.screenshot(path=str(tmp_path / f"{role}-{name}.png"), full_page=True)
        if problems := problems_in(text):
            found[name] = problems
    page.close()
    assert found == {}, found
