"""Dashboard benchmark: the supervisor page on a city-sized database, in Chromium.

    .venv/bin/python bench/dashboard_bench.py [--grids 10000] [--shops-per-grid 10] [--cases 1000000]

Builds (once, cached under bench/out/; or in the empty PostgreSQL database
given by ``--database-url``) a database of a synthetic city:
a lattice of square grids near Quanzhou, shops in each, cases over two years
(about 3 % open, the rest closed; no per-case history rows, which the page
does not read except for one chosen case), then starts the app, signs in as
a supervisor in headless Chromium and measures

- *interactive*: from clicking "Sign in" until the supervisor page's deck.gl
  canvas and ranking table (the open tab) are drawn and the app has finished
  running (argon2 verification, about 0.1 s, included);
- *filter change*: from picking a category in the filter until the rerun has
  finished and the map and the ranking are drawn again; then the same for a
  second category added (no kept figures: served by the case facts);
- *trends tab*: from clicking the trends tab until its chart is drawn;

each for ``--runs`` first visits (a new browser profile each: Streamlit's
scripts, deck.gl's among them, fetched and compiled again) and ``--runs``
returning visits (one profile, whose HTTP cache keeps them, as a
supervisor's own browser does), after one visit on cold server caches,
reported apart.  Every filter change picks a category the server has not
counted within its cache's minute.  Then date-range filters of several
lengths (``--date-ranges``; ``--date-ranges-only`` skips the visits), each
on a fresh page.  Prints
Markdown tables for BENCHMARKS.md.  Not a timed test.

``--server`` measures the server side instead, in this process (no browser):
each governance read the page makes, cold, and one whole run of the
supervisor page through ``streamlit.testing.v1.AppTest``, cold caches and
warm, unfiltered and with a category chosen.  Wall and CPU time are given,
with the 1-minute load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import insert, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from governance.auth import hash_password  # noqa: E402
from governance.catalog import Category, Severity, resolve_limit  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import Case, Grid, GridGeneration, Shop, User  # noqa: E402

OUT = ROOT / "bench" / "out"
ORIGIN = (118.55, 24.85)
CELL_DEG = 0.0010  # about 100 m × 110 m
PASSWORD = "bench-pass"


def build_city_db(
    url: str, *, n_grids: int, shops_per_grid: int, n_cases: int, seed: int = 0
) -> None:
    """Write the synthetic city into the empty database at ``url`` (a SQLite file is made anew)."""
    rng = np.random.default_rng(seed)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    side = int(np.ceil(np.sqrt(n_grids)))
    with transaction(engine) as session:
        session.add(
            GridGeneration(id=1, method="bench-lattice", params={}, quality={}, is_current=True)
        )
        session.add(
            User(
                username="supervisor",
                display_name="Bench supervisor",
                role="supervisor",
                password_hash=hash_password(PASSWORD),
            )
        )
        session.flush()
        grids = []
        for i in range(n_grids):
            row, col = divmod(i, side)
            x0, y0 = ORIGIN[0] + col * CELL_DEG, ORIGIN[1] + row * CELL_DEG
            grids.append(
                {
                    "id": i + 1,
                    "generation_id": 1,
                    "code": f"G{i + 1:05d}",
                    "name": "",
                    "n_shops": shops_per_grid,
                    "is_building": False,
                    "geometry": shapely.box(x0, y0, x0 + CELL_DEG, y0 + CELL_DEG),
                }
            )
        session.execute(insert(Grid), grids)
        shops = []
        trades = ["catering", "retail", "tea", "clothing", "services"]
        n = 0
        for g in grids:
            x0, y0, _, _ = g["geometry"].bounds
            for _ in range(shops_per_grid):
                n += 1
                shops.append(
                    {
                        "id": n,
                        "shop_code": f"S{n:07d}",
                        "name": f"Shop {n}",
                        "trade": trades[n % len(trades)],
                        "street": "",
                        "party_member_operator": False,
                        "geometry": shapely.Point(
                            x0 + CELL_DEG * (0.1 + 0.8 * rng.random()),
                            y0 + CELL_DEG * (0.1 + 0.8 * rng.random()),
                        ),
                        "grid_id": g["id"],
                        "opened_at": now - timedelta(days=1000),
                    }
                )
                if len(shops) >= 20000:
                    session.execute(insert(Shop), shops)
                    shops = []
        if shops:
            session.execute(insert(Shop), shops)
    categories = [c.value for c in Category]
    severities = [s.value for s in Severity]
    chunk = 50_000
    written = 0
    while written < n_cases:
        n = min(chunk, n_cases - written)
        grid_ids = rng.integers(1, n_grids + 1, n)
        age_days = rng.random(n) * 730
        created = [now - timedelta(days=float(a)) for a in age_days]
        cats = rng.choice(categories, n)
        sevs = rng.choice(severities, n, p=[0.4, 0.35, 0.2, 0.05])
        open_mask = rng.random(n) < np.where(age_days < 60, 0.35, 0.005)
        states = np.where(
            open_mask, rng.choice(["warning", "in_progress", "follow_up"], n), "closed"
        )
        rows = []
        for j in range(n):
            gid = int(grid_ids[j])
            row_i, col_i = divmod(gid - 1, side)
            x = ORIGIN[0] + (col_i + rng.random()) * CELL_DEG
            y = ORIGIN[1] + (row_i + rng.random()) * CELL_DEG
            due = created[j] + resolve_limit(Category(cats[j]), Severity(sevs[j]))
            closed = states[j] == "closed"
            closed_at = (
                created[j] + timedelta(hours=float(rng.gamma(2.0, 30.0))) if closed else None
            )
            rows.append(
                {
                    "case_no": f"C{written + j + 1:08d}",
                    "kind": "patrol",
                    "category": cats[j],
                    "severity": sevs[j],
                    "title": f"case {written + j + 1}",
                    "description": "",
                    "geometry": shapely.Point(x, y),
                    "grid_id": gid,
                    "shop_id": None,
                    "reporter_id": None,
                    "state": states[j],
                    "outcome": "fixed" if closed else None,
                    "created_at": created[j],
                    "due_at": due,
                    "follow_up_due_at": due + timedelta(days=3)
                    if states[j] == "follow_up"
                    else None,
                    "closed_at": closed_at,
                    "resolved_at": closed_at,
                    "reopen_count": 0,
                    "version": 1,
                }
            )
        with transaction(engine) as session:
            session.execute(insert(Case), rows)
        written += n
        print(f"  cases: {written:,}/{n_cases:,}", file=sys.stderr)
    from governance.figures import refresh_grid_stats

    with transaction(engine) as session:
        refresh_grid_stats(session)
    fill_derived(engine)
    engine.dispose()


def fill_derived(engine) -> None:
    """The routine checks due per shop and the stored figures per grid and category, as
    adopting a grid generation keeps them in a real database (the grids here are inserted
    directly, and a database built before a figure was kept lacks it)."""
    from governance.check_due import refresh_check_due
    from governance.figures import refresh_grid_stats
    from governance.models import CheckDue, GridCategoryStats

    with transaction(engine) as session:
        if session.scalar(select(CheckDue.shop_id).limit(1)) is None:
            refresh_check_due(session)
        if session.scalar(select(GridCategoryStats.grid_id).limit(1)) is None:
            refresh_grid_stats(session)


#: Every filter change picks a category the server has not counted within its cache's
#: minute (ten categories, a run every 10-15 s), so each one is measured cold.
CATEGORY_LABELS = ["Gas", "Electricity", "Noise", "Renovation", "Amusement rides", "Fire safety",
                   "Shop-front upkeep", "Road occupation", "Cooking fumes", "Other"]


def measure(url: str, *, runs: int) -> dict:
    """Sign in and filter ``runs`` times as a first visit (a new browser profile each time:
    nothing cached) and ``runs`` times as a returning visit (one profile, whose HTTP cache
    keeps Streamlit's scripts between visits, as a supervisor's browser does)."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM_ARGS, running_app

    log = OUT / "dashboard-bench-streamlit.log"
    results = {mode: {"interactive": [], "filter": [], "two": [], "trends": [], "bytes": [], "hotspots": []}
               for mode in ("cold", "first", "returning")}
    picks = iter(range(10_000))
    with running_app(url, log) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        viewport = {"width": 1400, "height": 1000}
        # The server's caches are cold for the very first visit only: reported apart.
        context = browser.new_context(viewport=viewport)
        _visit(context, base, results["cold"], category=CATEGORY_LABELS[next(picks) % 10], label="cold server")
        context.close()
        for run in range(runs):
            context = browser.new_context(viewport=viewport)
            _visit(context, base, results["first"], category=CATEGORY_LABELS[next(picks) % 10],
                   label=f"first visit {run + 1}")
            context.close()
        context = browser.new_context(viewport=viewport)
        _visit(context, base, {key: [] for key in ("interactive", "filter", "two", "trends", "bytes", "hotspots")},
               category=CATEGORY_LABELS[next(picks) % 10], label="returning visit 0 (fills the HTTP cache)")
        for run in range(runs):
            _visit(context, base, results["returning"], category=CATEGORY_LABELS[next(picks) % 10],
                   label=f"returning visit {run + 1}", screenshot=run == runs - 1)
        context.close()
        browser.close()
    return results


def fill_sign_in(page, base: str, username: str = "supervisor") -> None:
    """Open the app in English and type ``username``'s credentials (the caller clicks)."""
    # The sign-in cookie outlives the page (issue 18): a returning visit would open
    # signed in. Drop it, keep the HTTP cache, so every visit is timed from "Sign in".
    page.context.clear_cookies()
    page.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
    page.get_by_role("textbox", name="User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)


def _figures(page) -> str:
    """The figures line above the map ("Open … · overdue …")."""
    return page.get_by_text(re.compile(r"^Open \d+ · overdue")).inner_text()


def _wait_figures_changed(page, old: str) -> None:
    """Until the figures line above the map differs from ``old``: the new run has drawn it."""
    page.wait_for_function(
        "(old) => [...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
        ".some(e => e.innerText.startsWith('Open ') && e.innerText !== old)",
        arg=old, timeout=60_000,
    )


def measure_date_ranges(url: str, *, days_back: list[int]) -> list[tuple[int, float]]:
    """(days, seconds): from closing the date picker on "the last ``days`` days" until the
    page is drawn again, on the unfiltered page of a returning visit.  A date range is
    counted from the cases every time (no stored figures), so it is the slowest filter."""
    from datetime import date

    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM_ARGS, running_app

    out = []
    with running_app(url, OUT / "dashboard-bench-streamlit-dates.log") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        for days in [days_back[0], *days_back]:  # the first fills the HTTP and server caches
            page = context.new_page()
            page.set_default_timeout(600_000)
            fill_sign_in(page, base)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="District supervision").wait_for()
            wait_drawn(page)
            kpi = _figures(page)
            today = date.today()
            for field, day in (("start", today - timedelta(days=days)), ("end", today)):
                page.get_by_role("spinbutton", name=f"year, Raised between {field} date").click()
                page.keyboard.type(day.strftime("%Y%m%d"))
            start = time.perf_counter()
            page.keyboard.press("Escape")  # closes the calendar: the range is sent
            _wait_figures_changed(page, kpi)
            wait_drawn(page)
            out.append((days, time.perf_counter() - start))
            print(f"  date range, last {days} days: {out[-1][1]:.2f} s", file=sys.stderr)
            page.close()
        browser.close()
    return out[1:]


def _visit(context, base: str, into: dict, *, category: str, label: str, screenshot: bool = False) -> None:
    """One visit: sign in, pick ``category``, then a second one, open the trends tab; times
    appended to ``into``."""
    page = context.new_page()
    page.set_default_timeout(600_000)
    received = [0]
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))),
    )
    fill_sign_in(page, base)
    # "interactive" runs from the sign-in click to the supervisor page fully drawn.
    received[0] = 0
    start = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="District supervision").wait_for()
    marks = {"heading": time.perf_counter() - start}
    wait_drawn(page, marks=marks, start=start)
    into["interactive"].append(time.perf_counter() - start)
    into["bytes"].append(received[0])
    print(f"  {label} marks: " + ", ".join(f"{k} {v:.2f} s" for k, v in marks.items()), file=sys.stderr)
    if screenshot:
        page.screenshot(path=str(OUT / "supervisor-city.png"))
    into["filter"].append(pick_category(page, category, label))
    # A second category: no figures are kept for two, they come from the case facts.
    second = CATEGORY_LABELS[(CATEGORY_LABELS.index(category) + 1) % len(CATEGORY_LABELS)]
    into["two"].append(pick_category(page, second, label + ", second category"))
    start = time.perf_counter()
    page.get_by_role("tab", name="Trends per category (weekly)").click()
    wait_drawn(page, chart=True)
    into["trends"].append(time.perf_counter() - start)
    page.close()
    print(
        f"  {label}: interactive {into['interactive'][-1]:.2f} s, filter ({category}) {into['filter'][-1]:.2f} s, "
        f"second category ({second}) {into['two'][-1]:.2f} s, "
        f"trends tab {into['trends'][-1]:.2f} s, {into['bytes'][-1] / 1e6:.2f} MB over the websocket",
        file=sys.stderr,
    )


def pick_category(page, category: str, label: str) -> float:
    """Seconds from picking ``category`` in the filter until the page is drawn again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    kpi = _figures(page)
    # A click that lands while the list is being redrawn can be lost: then the figures
    # never change; pick again (timed from the pick that took).
    for _attempt in range(3):
        # Click the list's text box: the middle of the box can be a chosen category's chip
        # (a long one such as "Amusement rides"), which opens nothing.
        page.locator("[data-testid='stMultiSelect']").filter(has_text="Categories").locator("input").click()
        option = page.get_by_role("option", name=category, exact=True)
        try:
            option.wait_for(timeout=10_000)
        except PlaywrightTimeout:
            print(f"  {label}: {category!r} not among the options {page.get_by_role('option').all_inner_texts()}",
                  file=sys.stderr)
            page.keyboard.press("Escape")
            continue
        start = time.perf_counter()
        option.click()
        try:
            _wait_figures_changed(page, kpi)  # then everything is drawn, below
            break
        except PlaywrightTimeout:
            print(f"  {label}: the pick was lost, picking again", file=sys.stderr)
            page.keyboard.press("Escape")
    else:
        raise RuntimeError("the category filter did not change the figures after three picks")
    marks = {"figures changed": time.perf_counter() - start}
    wait_drawn(page, marks=marks, start=start)
    took = time.perf_counter() - start
    page.keyboard.press("Escape")
    print(f"  {label} filter marks: " + ", ".join(f"{k} {v:.2f} s" for k, v in marks.items()), file=sys.stderr)
    return took


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def measure_server(url: str) -> list[tuple[str, float, float, str, str]]:
    """(what, wall s, CPU s, load average, note) for each read and for AppTest runs of the page."""
    from datetime import timedelta

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from governance import check_due, grids, loop_summary, queries, trends
    from governance.catalog import OPEN_STATES
    from governance.db import session_factory
    from governance.filters import CaseFilter
    from governance.login import issue_token
    from governance.permissions import viewer_for
    from governance.settings import get_settings

    results = []

    def timed(name, work, note=""):
        wall, cpu = time.perf_counter(), time.process_time()
        out = work()
        results.append((name, time.perf_counter() - wall, time.process_time() - cpu, _load(), note))
        print(f"  {name}: {results[-1][1]:.2f} s ({results[-1][2]:.2f} s CPU) {note}", file=sys.stderr)
        return out

    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as session:
        viewer = viewer_for(session, "supervisor")
    now = datetime.now(UTC)
    open_states = tuple(s.value for s in OPEN_STATES)
    reads = {
        "grid_loop_summary, no filter": lambda s: loop_summary.grid_loop_summary(s, viewer),
        "grid_loop_summary, one category": lambda s: loop_summary.grid_loop_summary(
            s, viewer, filters=CaseFilter(categories=("gas",))),
        "grid_loop_summary, last 90 days": lambda s: loop_summary.grid_loop_summary(
            s, viewer, filters=CaseFilter(start=now - timedelta(days=90))),
        "cases_frame, 3,000 most urgent open cases": lambda s: queries.cases_frame(
            s, viewer, filters=CaseFilter(states=open_states), limit=3000, urgent_first=True),
        "category_series, no filter": lambda s: trends.category_series(s, viewer),
        "category_series, one category": lambda s: trends.category_series(
            s, viewer, filters=CaseFilter(categories=("gas",))),
        "category_series, last 90 days": lambda s: trends.category_series(
            s, viewer, filters=CaseFilter(start=now - timedelta(days=90))),
        "current_grids": lambda s: grids.current_grids(s, viewer),
        "grid_codes": lambda s: grids.grid_codes(s, viewer),
        "open_shops of one grid": lambda s: queries.open_shops(s, viewer, grid_codes=("G00042",)),
    }
    for name, read in reads.items():
        with factory() as session:
            frame = timed(name, lambda read=read, session=session: read(session))
        results[-1] = (*results[-1][:4], f"{len(frame):,} rows")
    # A grid leader's page reads the same functions for one grid (no account needed to time them).
    from governance.catalog import Role
    from governance.permissions import Viewer

    with factory() as session:
        grid_id = session.scalar(select(Grid.id).where(Grid.code == "G04242"))
    leader = Viewer(None, "bench-leader", Role.GRID_LEADER, frozenset({grid_id}))
    leader_reads = {
        "current_grids": lambda s: grids.current_grids(s, leader),
        "grid_loop_summary": lambda s: loop_summary.grid_loop_summary(s, leader),
        "open_shops": lambda s: queries.open_shops(s, leader),
        "cases_frame": lambda s: queries.cases_frame(s, leader),
        "checks_due": lambda s: check_due.checks_due(s, leader),
    }
    for name, read in leader_reads.items():
        with factory() as session:
            frame = timed(f"grid leader (one grid): {name}", lambda read=read, session=session: read(session))
        results[-1] = (*results[-1][:4], f"{len(frame):,} rows")
    from governance.facts import CaseFacts

    with factory() as session:
        facts = timed("CaseFacts.read (once per server process, in the background)",
                      lambda: CaseFacts.read(session))
        results[-1] = (*results[-1][:4], f"{len(facts.cases):,} cases, "
                       f"{facts.cases.memory_usage(deep=True).sum() / 1e6:.0f} MB")
        timed("CaseFacts.updated, nothing changed (before every use)", lambda: facts.updated(session))
        for name, filters in {
            "last 90 days": CaseFilter(start=now - timedelta(days=90)),
            "last 365 days": CaseFilter(start=now - timedelta(days=365)),
            "two categories": CaseFilter(categories=("gas", "electricity")),
        }.items():
            frame = timed(f"grid_loop_summary, {name}, from case facts",
                          lambda f=filters: loop_summary.grid_loop_summary(session, viewer, filters=f, facts=facts))
        timed("category_series, no filter, from case facts",
              lambda: trends.category_series(session, viewer, facts=facts))
    engine.dispose()

    os.environ["LINPU_DATABASE_URL"] = url
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    app.session_state["linpu_token"] = issue_token("supervisor")
    app.query_params["lang"] = "en"
    timed("supervisor page, AppTest run, cold caches", app.run)
    assert not app.exception, [e.value for e in app.exception]
    timed("supervisor page, AppTest rerun, warm caches", app.run)
    app.multiselect(key="sup-categories").set_value(["gas"])
    timed("supervisor page, AppTest run, a category chosen (cold)", app.run)
    assert not app.exception, [e.value for e in app.exception]
    st.cache_data.clear()
    app.multiselect(key="sup-categories").set_value([])
    timed("supervisor page, AppTest run, cold caches, modules already imported", app.run)
    from dashboard import data

    def deck_json():
        return data.supervisor_map(viewer, data.viewer_key(viewer), CaseFilter(), data.epoch(), 5,
                                   with_cases=False, show_heat=True, show_hotspots=True,
                                   selected_code=None, language="en").to_json()

    data.supervisor_map.clear()
    timed("deck built and serialised, no filter (as the page opens: no case points)", deck_json)
    deck = timed("deck again (cached)", deck_json)
    results[-1] = (*results[-1][:4], f"{len(deck.encode()) / 1e6:.2f} MB")
    return results


#: True in the page once the Streamlit run is over: its running indicator gone, no stale
#: element left (Streamlit marks the previous run's elements stale until they are replaced).
RUN_FINISHED_JS = """() => { const status = document.querySelector("[data-testid='stStatusWidget']");
                   return (!status || status.offsetParent === null)
                          && !document.querySelector("[data-stale='true']"); }"""


def wait_run_finished(page) -> None:
    """Until the Streamlit run is over (:data:`RUN_FINISHED_JS`); the caller has seen the new
    run begin (the page's heading, changed figures, a chart)."""
    page.wait_for_function(RUN_FINISHED_JS)


def next_frame(page) -> None:
    """Until the browser has drawn two more frames (what the run changed is on screen)."""
    page.wait_for_function(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
    )


def wait_drawn(page, *, marks: dict | None = None,
                start: float = 0.0, chart: bool = False) -> None:
    """Wait until the run is over and the map and the open tab (ranking, or the trend chart) are drawn."""
    marks = {} if marks is None else marks
    if chart:  # only the new run draws it: proof that the run has begun
        page.locator(
            "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']"
        ).first.wait_for()
        marks["chart"] = time.perf_counter() - start
    wait_run_finished(page)
    marks["app done"] = time.perf_counter() - start
    page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for()
    marks["deck canvas"] = time.perf_counter() - start
    if not chart:
        page.locator("[data-testid='stDataFrame']").first.wait_for()
        marks["table"] = time.perf_counter() - start
    next_frame(page)



def city_database(database_url: str | None, *, n_grids: int, shops_per_grid: int, n_cases: int,
                  rebuild: bool = False) -> str:
    """The URL of the synthetic city, built once (under bench/out/, or in the empty PostgreSQL
    database at ``database_url``) and brought up to the current schema and kept figures."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"city-{n_grids}-{shops_per_grid}-{n_cases}.sqlite3"
    url = database_url or f"sqlite:///{path}"
    if database_url:
        with make_engine(url).connect() as connection:
            built = connection.execute(text("SELECT to_regclass('cases') IS NOT NULL")).scalar()
    else:
        built = path.exists()
    if rebuild or not built:
        start = time.perf_counter()
        build_city_db(url, n_grids=n_grids, shops_per_grid=shops_per_grid, n_cases=n_cases)
        print(f"built {make_url(url).render_as_string()} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    # A database built before a schema change gets the new migrations (indexes).
    migrated = make_engine(url)
    upgrade(migrated)
    fill_derived(migrated)
    migrated.dispose()
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--shops-per-grid", type=int, default=10)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="visits of each kind (first, returning)")
    parser.add_argument("--date-ranges", type=int, nargs="*", default=[30, 61, 92, 183, 365],
                        metavar="DAYS", help="also time date-range filters of these lengths (none: skip)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--date-ranges-only", action="store_true", help="skip the visits; date ranges only")
    parser.add_argument("--server", action="store_true",
                        help="measure the reads and AppTest runs of the page (no browser)")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to build in and measure "
                        "(default: a SQLite file under bench/out/)")
    args = parser.parse_args(argv)
    url = city_database(args.database_url, n_grids=args.grids, shops_per_grid=args.shops_per_grid,
                        n_cases=args.cases, rebuild=args.rebuild)
    if args.build_only:
        return
    if args.server:
        print(f"\nServer side, {platform.machine()}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}, {make_url(url).get_backend_name()}\n")
        print("| what | wall | CPU | load avg (1 min) | note |")
        print("|---|---|---|---|---|")
        for name, wall, cpu, load, note in measure_server(url):
            print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {load} | {note} |")
        return
    if args.date_ranges_only:
        args.runs = 0
    result = None if args.runs == 0 else measure(url, runs=args.runs)
    cpu = platform.processor() or platform.machine()
    print(f"\nMachine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {make_url(url).get_backend_name()}, "
          f"load average {_load()} after the run\n")
    label = (
        f"{args.grids:,} grids, {args.grids * args.shops_per_grid:,} shops, {args.cases:,} cases"
    )
    if result is not None:
        _print_visits(result, label)
    if args.date_ranges:
        ranges = measure_date_ranges(url, days_back=args.date_ranges)
        print("\n| date range (returning visit, nothing else filtered) | filter change redrawn | target |")
        print("|---|---|---|")
        for days, seconds in ranges:
            print(f"| last {days} days | {seconds:.2f} s | < 2 s |")


def _print_visits(result: dict, label: str) -> None:
    med = statistics.median
    print(f"{label}; every filter change picks a category not counted in the last minute (cold).\n")
    print("| measure | cold server, first visit | first visits: median (range) | returning visits: median (range) | target |")
    print("|---|---|---|---|---|")

    def cell(values, unit="s", scale=1.0):
        values = [v * scale for v in values]
        return f"{med(values):.2f} {unit} ({min(values):.2f}–{max(values):.2f})"

    for name, key, target in (("supervisor page interactive", "interactive", "< 4 s"),
                              ("filter change redrawn (one category)", "filter", "< 2 s"),
                              ("second category added, redrawn", "two", "< 2 s"),
                              ("trends tab opened, chart drawn", "trends", "")):
        cold = result["cold"][key][0]
        print(f"| {name} | {cold:.2f} s | {cell(result['first'][key])} | {cell(result['returning'][key])} | {target} |")
    print(f"| data sent on page load | {result['cold']['bytes'][0] / 1e6:.2f} MB | "
          f"{cell(result['first']['bytes'], 'MB', 1e-6)} | {cell(result['returning']['bytes'], 'MB', 1e-6)} | |")


if __name__ == "__main__":
    main()
