"""The dashboard's pages and role guards with streamlit.testing.v1.AppTest (no browser).

AppTest runs the scripts in this process, so each test points the settings
at its database and clears Streamlit's caches first.  Tests that write get a
copy of the demo database.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from click.testing import CliRunner
from sqlalchemy import func, select, text
from streamlit.testing.v1 import AppTest

from dashboard import data, hotspot_cache
from dashboard.i18n import translate
from governance.clock import district_zone
from governance.db import make_engine, session_factory, transaction
from governance.filters import CaseFilter
from governance.grids import current_grids
from governance.hotspots import case_hotspots
from governance.login import issue_token
from governance.models import Case, User
from governance.permissions import district_viewer, system_viewer, viewer_for
from governance.queries import cases_frame
from governance.settings import get_settings
from governance.workflow import file_case
from pipelines.commands.root import main as cli
from pipelines.demo_load import DEMO_DIR

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 120


@pytest.fixture
def use_database(monkeypatch):
    """Point the app at a database URL (and demo mode) with fresh caches."""

    def use(url: str, *, demo: bool = True) -> str:
        monkeypatch.setenv("LINPU_DATABASE_URL", url)
        monkeypatch.setenv("LINPU_DEMO_MODE", "true" if demo else "false")
        get_settings.cache_clear()
        st.cache_data.clear()
        st.cache_resource.clear()
        return url

    yield use
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def writable_demo(demo_database, tmp_path) -> str:
    """A private copy of the demo database, for tests that write."""
    source = Path(demo_database.removeprefix("sqlite:///"))
    target = tmp_path / "demo-copy.sqlite3"
    shutil.copy(source, target)
    return f"sqlite:///{target}"


def app(username: str | None = None, *, lang: str | None = None, token: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if username or token:
        at.session_state["linpu_token"] = token or issue_token(username)
    if lang:
        at.query_params["lang"] = lang
    return at.run()


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin-username").input(username)
    at.text_input(key="signin-password").input(password)
    next(b for b in at.button if b.label in ("登录", "Sign in")).click()
    return at.run()


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# --- sign-in ------------------------------------------------------------------


def test_signed_out_user_sees_only_the_sign_in_page_with_demo_accounts(use_database, demo_database):
    use_database(demo_database, demo=True)
    at = app()
    no_exceptions(at)
    assert [t.value for t in at.title] == ["登录邻铺"]
    text = markdown_text(at)
    assert "leader01" in text and "supervisor1" in text and "linpu-demo" in text
    # The "+N" team and the departments have demo accounts too (issue 20).
    assert "**网格成员**" in text and "fire01" in text and "**职能部门**" in text and "dept_culture" in text


def test_demo_accounts_are_hidden_outside_demo_mode(use_database, demo_database):
    use_database(demo_database, demo=False)
    at = app()
    assert "leader01" not in markdown_text(at)
    assert "linpu-demo" not in markdown_text(at)


def test_wrong_password_is_refused_and_keeps_the_user_name(use_database, writable_demo):
    use_database(writable_demo)
    at = sign_in(app(), "leader01", "wrong")
    assert any("用户名或密码不正确" in e.value for e in at.error)
    assert at.text_input(key="signin-username").value == "leader01"
    assert "linpu_token" not in at.session_state


def test_repeated_failures_lock_the_account(use_database, writable_demo):
    use_database(writable_demo)
    at = app(lang="en")
    for _ in range(5):
        at = sign_in(at, "leader02", "wrong")
    assert any("locked" in e.value for e in at.error)
    at = sign_in(at, "leader02", "linpu-demo")  # right password, still locked
    assert any("locked" in e.value for e in at.error)
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == "leader02"))
        assert user.locked_until is not None
    engine.dispose()


@pytest.mark.parametrize(("username", "title"), [
    ("leader01", "我的网格"), ("supervisor1", "街区督办"), ("analyst1", "数据分析与导出"),
])
def test_sign_in_lands_on_the_page_of_the_role(use_database, writable_demo, username, title):
    use_database(writable_demo)
    at = sign_in(app(), username, "linpu-demo")
    no_exceptions(at)
    assert "linpu_token" in at.session_state
    assert [t.value for t in at.title] == [title]


def test_expired_session_returns_to_sign_in_with_a_notice(use_database, writable_demo):
    use_database(writable_demo)
    old = issue_token("supervisor1", now=datetime.now(UTC) - timedelta(hours=3))
    at = app(token=old)
    assert [t.value for t in at.title] == ["登录邻铺"]
    assert any("超时" in i.value for i in at.info)


def test_forged_token_is_not_a_session(use_database, writable_demo):
    use_database(writable_demo)
    at = app(token="admin|1|9999999999|forged")
    assert [t.value for t in at.title] == ["登录邻铺"]


def test_sign_out(use_database, writable_demo):
    use_database(writable_demo)
    at = app("supervisor1")
    at.button(key="sign-out").click().run()
    assert "linpu_token" not in at.session_state
    assert [t.value for t in at.title] == ["登录邻铺"]


# --- role guard -----------------------------------------------------------------


@pytest.mark.parametrize("page", ["supervisor", "analyst"])
def test_grid_leader_cannot_open_district_pages_even_directly(use_database, writable_demo, page):
    use_database(writable_demo)
    # Through the app: the leader's navigation has no such page (only theirs and My password) ...
    at = app("leader01")
    with pytest.raises(ValueError, match="Known pages: .*leader.py', '.*password.py'\\]"):
        at.switch_page(f"dashboard/pages/{page}.py")
    # ... and the page script itself refuses a leader.
    direct = AppTest.from_file(str(ROOT / "dashboard" / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
    direct.session_state["linpu_token"] = issue_token("leader01")
    direct.run()
    assert any("无权" in e.value for e in direct.error)
    assert not direct.title


def test_pages_refuse_without_a_session(use_database, writable_demo):
    use_database(writable_demo)
    direct = AppTest.from_file(str(ROOT / "dashboard" / "pages" / "leader.py"), default_timeout=TIMEOUT).run()
    assert not direct.title
    assert direct.warning


# --- grid leader ------------------------------------------------------------------


def test_leader_sees_only_their_grid(use_database, writable_demo):
    use_database(writable_demo)
    at = app("leader01")
    no_exceptions(at)
    caption = at.caption[0].value
    assert "G001" in caption and "G002" not in caption
    cases = [df.value for df in at.dataframe if "网格" in df.value.columns]
    assert cases
    for frame in cases:
        assert set(frame["网格"]) <= {"G001"}


def test_leader_files_a_patrol_finding_and_moves_it_through_the_loop(use_database, writable_demo):
    use_database(writable_demo)
    at = app("leader01", lang="en")
    no_exceptions(at)
    engine = make_engine(writable_demo)

    def count() -> int:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(Case))

    before = count()
    shop = at.selectbox(key="report-shop")
    shop.set_value(shop.options[0].rsplit("(", 1)[1].rstrip(")")).run()
    # A missing title is refused, nothing written, the rest kept.
    at.text_area(key="report-description").input("blocked exit")
    next(b for b in at.button if b.label == "Submit").click().run()
    assert any("Enter a title" in e.value for e in at.error)
    assert count() == before
    assert at.text_area(key="report-description").value == "blocked exit"

    title = "<img src=x onerror=alert(1)>"
    at.text_input(key="report-title").input(title)
    next(b for b in at.button if b.label == "Submit").click().run()
    no_exceptions(at)
    assert count() == before + 1
    assert any("filed" in s.value for s in at.success)
    with session_factory(engine)() as session:
        case = session.scalar(select(Case).where(Case.title == title))
        assert case is not None and str(case.state) == "warning"
        case_no = case.case_no

    # Move it: take on, resolve, confirm at the follow-up visit.
    # Its card in My cases opens it at its next step (and it stays open through the steps).
    at.button(key=f"mine-open-{case_no}").click().run()
    for action, state in (("take_on", "in_progress"), ("resolve", "follow_up"), ("confirm", "closed")):
        at.radio(key="leader-action-choice").set_value(action)
        at.text_area(key="leader-note").input(f"note for {action}")
        if action == "resolve":  # a safety case (electricity): no after photo, so the reason
            at.text_input(key="leader-no-photo").input("photo taken by the merchant")
        next(b for b in at.button if b.label == "Apply").click().run()
        no_exceptions(at)
        with session_factory(engine)() as session:
            assert str(session.scalar(select(Case.state).where(Case.case_no == case_no))) == state
        if state == "closed":
            at.button(key="case-view-back").click().run()
            at.toggle(key="leader-open-only").set_value(False).run()
    engine.dispose()


def test_a_busy_database_is_said_in_the_page_language_and_keeps_the_form(use_database, writable_demo):
    """Another writer holds SQLite's lock past the 10 s wait: the leader is told, in Chinese, that
    nothing was saved; the title stays typed and no case is written."""
    use_database(writable_demo)
    at = app("leader01")
    shop = at.selectbox(key="report-shop")
    shop.set_value(shop.options[0].rsplit("(", 1)[1].rstrip(")")).run()
    at.text_input(key="report-title").input("后门消防通道被纸箱堵塞（测试）")
    path = writable_demo.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        next(b for b in at.button if b.label == "提交").click().run()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    no_exceptions(at)
    assert [e.value for e in at.error] == [translate("error.busy", "zh")]
    assert at.text_input(key="report-title").value == "后门消防通道被纸箱堵塞（测试）"
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Case).where(Case.title == "后门消防通道被纸箱堵塞（测试）")) == 0
    engine.dispose()


def test_leader_hazard_check_with_a_failed_item_raises_a_case(use_database, writable_demo):
    use_database(writable_demo)
    at = app("leader01", lang="en")
    at.radio(key="report-kind").set_value("check").run()
    shop = at.selectbox(key="report-shop")
    shop.set_value(shop.options[0].rsplit("(", 1)[1].rstrip(")")).run()
    at.checkbox(key="check-elec.rcd").uncheck()
    next(b for b in at.button if b.label == "Submit").click().run()
    no_exceptions(at)
    assert any("failed" in s.value for s in at.success), [e.value for e in at.error]


# --- supervisor -------------------------------------------------------------------


def test_supervisor_page_filters_drive_map_tables_and_chart(use_database, writable_demo):
    use_database(writable_demo)
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    assert at.get("deck_gl_json_chart")
    kpi_before = at.caption[0].value
    at.multiselect(key="sup-categories").set_value(["gas"]).run()
    no_exceptions(at)
    assert at.caption[0].value != kpi_before
    at.multiselect(key="sup-states").set_value(["warning"]).run()
    no_exceptions(at)
    assert at.get("deck_gl_json_chart")


def test_supervisor_ranking_and_trends_are_tabs_drawn_when_open(use_database, writable_demo):
    use_database(writable_demo)
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    assert [tab.label for tab in at.tabs] == ["Grid ranking", "Trends per category (weekly)"]
    assert any("Rank" in frame.value.columns for frame in at.dataframe)
    assert not at.get("vega_lite_chart")  # the closed tab is not drawn
    trends = AppTest.from_file(APP, default_timeout=TIMEOUT)  # as after a click on the Trends tab
    trends.session_state["linpu_token"] = issue_token("supervisor1")
    trends.session_state["sup-side"] = "Trends per category (weekly)"
    trends.query_params["lang"] = "en"
    trends.run()
    no_exceptions(trends)
    assert trends.get("vega_lite_chart")
    assert not any("Rank" in frame.value.columns for frame in trends.dataframe)


def test_supervisor_grid_detail_and_close_as_not_responsible(use_database, writable_demo):
    use_database(writable_demo)
    at = app("supervisor1", lang="en")
    at.multiselect(key="sup-states").set_value(["warning"]).run()
    # A grid with an open warning.
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        from governance.models import Grid

        case_no, code = session.execute(
            select(Case.case_no, Grid.code).join(Grid, Grid.id == Case.grid_id)
            .where(Case.state == "warning").order_by(Case.created_at.desc())
        ).first()
    at.selectbox(key="sup-grid").select(code).run()
    no_exceptions(at)
    assert any("Team" in m.value for m in at.markdown)
    at.selectbox(key="sup-case").select(case_no).run()
    at.radio(key="sup-action-choice").set_value("close_not_responsible")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert any("reason" in e.value.lower() for e in at.error)  # a reason is required
    at.radio(key="sup-action-choice").set_value("close_not_responsible")
    at.text_area(key="sup-note").input("belongs to the market authority")
    next(b for b in at.button if b.label == "Apply").click().run()
    no_exceptions(at)
    with session_factory(engine)() as session:
        case = session.scalar(select(Case).where(Case.case_no == case_no))
        assert (str(case.state), str(case.outcome)) == ("closed", "not_responsible")
    engine.dispose()


# --- analyst ----------------------------------------------------------------------


def test_analyst_exports_a_geopackage(use_database, writable_demo, tmp_path):
    import geopandas as gpd

    use_database(writable_demo)
    at = app("analyst1", lang="en")
    no_exceptions(at)
    at.selectbox(key="an-format").select("gpkg").run()
    next(b for b in at.button if b.label == "Prepare the files").click().run()
    no_exceptions(at)
    buttons = at.get("download_button")
    assert buttons, "no download button"
    # The bytes offered are those of `linpu export`: open them with geopandas.
    from dashboard import data

    files, _, features = data.export_files(
        __import__("governance.permissions", fromlist=["x"]).district_viewer(),
        layers=("grids", "cases"), fmt="gpkg", filters=CaseFilter())
    name, payload = files[0]
    path = tmp_path / name
    path.write_bytes(payload)
    assert len(gpd.read_file(path, layer="grids")) == features["grids"] > 0


def test_english_switch_translates_the_sign_in_page(use_database, writable_demo):
    use_database(writable_demo)
    at = app(lang="en")
    assert [t.value for t in at.title] == ["Sign in to Linpu"]


def test_analyst_previews_a_regridding_without_saving(use_database, writable_demo):
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        from governance.models import GridGeneration

        generations = session.scalar(select(func.count()).select_from(GridGeneration))
    at = app("analyst1", lang="en")
    next(b for b in at.button if b.label == "Preview").click().run()
    no_exceptions(at)
    quality = next(df.value for df in at.dataframe if "Current grids" in df.value.columns)
    assert {"Current grids", "Proposed grids"} <= set(quality.columns)
    assert not any(b.label == "Save as the new grid generation" for b in at.button)  # analysts change nothing
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(GridGeneration)) == generations
    engine.dispose()


def test_only_a_district_wide_supervisor_saves_a_regridding_for_the_whole_district(use_database, writable_demo):
    from governance.errors import PermissionDenied
    from governance.models import GridGeneration

    use_database(writable_demo)
    engine = make_engine(writable_demo)

    def generations() -> int:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(GridGeneration))

    before = generations()
    # A branch secretary previews from their branch's shops only: no save offered, and a
    # forged call is refused before anything is written.
    at = app("secretary1", lang="en").switch_page("dashboard/pages/analyst.py").run()
    next(b for b in at.button if b.label == "Preview").click().run()
    no_exceptions(at)
    assert not any(b.label == "Save as the new grid generation" for b in at.button)
    with session_factory(engine)() as session:
        secretary = viewer_for(session, "secretary1")
    preview = data.regrid_preview(secretary, data.viewer_key(secretary), data.epoch(), 10, 8, 12, 1)
    with pytest.raises(PermissionDenied, match="whole district"):
        data.adopt_preview(secretary, preview)
    assert generations() == before
    # The district's supervisor saves: one new generation, holding every open shop.
    at = app("supervisor1", lang="en").switch_page("dashboard/pages/analyst.py").run()
    next(b for b in at.button if b.label == "Preview").click().run()
    next(b for b in at.button if b.label == "Save as the new grid generation").click().run()
    no_exceptions(at)
    assert generations() == before + 1
    with session_factory(engine)() as session:
        shops_in_grids = current_grids(session, district_viewer())["n_shops"].sum()
        open_shops = session.execute(text("SELECT count(*) FROM shops WHERE closed_at IS NULL")).scalar()
    assert shops_in_grids == open_shops > len(preview["shop_codes"])
    engine.dispose()


def test_supervisor_page_names_the_hotspot_method_and_says_when_there_are_too_few_cases(use_database, demo_database):
    use_database(demo_database)
    at = with_hotspots(app("supervisor1", lang="en"))
    no_exceptions(at)
    captions = [c.value for c in at.caption]
    assert any("esda G_Local" in c and "false-discovery-rate" in c and "at least 5 cases" in c for c in captions)
    # One quiet day: fewer than 30 cases, so no grid is called a hotspot and the page says why.
    at = with_hotspots(at.date_input(key="sup-dates").set_value((date(2020, 1, 1), date(2020, 1, 1))).run())
    no_exceptions(at)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Too few cases to call hotspots: 0 in the period") for c in captions)
    assert any("0 hotspots" in c for c in captions)


def with_hotspots(at: AppTest) -> AppTest:
    """The page rerun once the hotspots computed in the background are ready."""
    hotspot_cache.settle()
    return at.run()


def hotspot_total(at: AppTest) -> int:
    note = next(c.value for c in at.caption if "esda G_Local" in c.value)
    return int(re.search(r"(\d+) cases in the period", note).group(1))


def test_after_a_change_the_page_shows_the_previous_hotspots_as_of_their_time_until_the_new_are_computed(
        use_database, writable_demo, monkeypatch):
    # The real computation, held at a gate: a request that waited for it would hang here.
    gate = threading.Event()

    def gated(*args, **kwargs):
        assert gate.wait(60)
        return case_hotspots(*args, **kwargs)

    monkeypatch.setattr(hotspot_cache, "case_hotspots", gated)
    use_database(writable_demo)
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    assert any("being computed in the background" in c.value for c in at.caption)
    assert not any(c.value.startswith("Hotspots: Getis-Ord Gi*") for c in at.caption)
    gate.set()
    at = with_hotspots(at)
    before = hotspot_total(at)
    assert not any(c.value.startswith("Hotspots as of") for c in at.caption)
    gate.clear()

    engine = make_engine(writable_demo)
    with transaction(engine) as session:
        viewer = viewer_for(session, "supervisor1")
        point = current_grids(session, viewer).geometry.iloc[0].representative_point()
        file_case(session, viewer, kind="patrol", category="other", severity="low", title="new",
                  lon=point.x, lat=point.y)
    engine.dispose()
    data.bump_epoch()  # as the page's own writes do

    at.run()  # the request does not wait for Gi*: the previous hotspots, said to be older
    no_exceptions(at)
    assert hotspot_total(at) == before
    assert any(c.value.startswith("Hotspots as of") for c in at.caption)
    gate.set()
    at = with_hotspots(at)
    assert hotspot_total(at) == before + 1
    assert not any(c.value.startswith("Hotspots as of") for c in at.caption)


def rollup_branches(at: AppTest) -> pd.DataFrame:
    """The branch rows of the page's per-level table (by node), after checking its note."""
    expander = next(e for e in at.expander if e.label == "Per level of the organisation")
    assert [c.value for c in expander.caption] == [translate("sup.rollup_note", "en")]
    table = expander.dataframe[0].value
    assert list(table["Level"].drop_duplicates()) == ["Street committee", "District committee", "Branch"]
    return table[table["Level"] == "Branch"].set_index("Node")


def test_the_supervisor_page_rolls_the_loop_up_per_level_of_todays_tree_also_for_a_past_period(
        use_database, writable_demo, tmp_path):
    use_database(writable_demo)
    org = pd.read_csv(DEMO_DIR / "org.csv", dtype=str, keep_default_na=False)
    branches = {r.node_id: r.grids.split(";") for r in org.itertuples() if r.level == "branch"}
    first, second = sorted(branches)
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    rows = rollup_branches(at)
    assert sorted(rows.index) == [first, second]
    assert {node: rows.loc[node, "Grids"] for node in rows.index} == {b: len(g) for b, g in branches.items()}
    all_time = int(rows["Cases"].sum())

    # A past month, after today's tree moved the busiest grid of that month to the other branch.
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        earliest = session.scalar(select(func.min(Case.created_at))).replace(tzinfo=UTC)
        start = earliest.astimezone(district_zone()).date()
        end = start + timedelta(days=30)
        per_grid = cases_frame(session, system_viewer(), filters=CaseFilter.for_days(start, end))["grid_code"]
    engine.dispose()
    per_grid = per_grid.value_counts()
    moved = per_grid.reindex(branches[first]).idxmax()
    today = {first: [g for g in branches[first] if g != moved], second: [moved, *branches[second]]}
    for node, codes in today.items():
        org.loc[org["node_id"] == node, "grids"] = ";".join(codes)
    org.to_csv(tmp_path / "org.csv", index=False)
    result = CliRunner().invoke(cli, ["org", "import", str(tmp_path / "org.csv"), "--replace"])
    assert result.exit_code == 0, result.output
    data.bump_epoch()

    at.date_input(key="sup-dates").set_value((start, end)).run()
    no_exceptions(at)
    rows = rollup_branches(at)
    assert {node: rows.loc[node, "Grids"] for node in rows.index} == {b: len(g) for b, g in today.items()}
    assert {node: rows.loc[node, "Cases"] for node in rows.index} == {
        node: int(per_grid.reindex(codes).fillna(0).sum()) for node, codes in today.items()}
    assert 0 < rows["Cases"].sum() < all_time
