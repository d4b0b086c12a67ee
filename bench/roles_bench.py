"""Every role's page at city scale in Chromium, with others working at the same time (issue 27).

    .venv/bin/python bench/roles_bench.py [--runs 3] [--database-url URL] [--no-crowd]

On the synthetic city of ``bench/dashboard_bench.py`` (10,000 grids, 100,000
shops, 1,000,000 cases; built once under bench/out/, or in the empty
PostgreSQL database given by ``--database-url``), with bench accounts added
(6 supervisors, 21 grid leaders each leading one grid, an analyst), this
starts the app and times, in headless Chromium (Debian's, SwiftShader WebGL):

- **supervisor** (1400 × 1000): the page *interactive*, from the click on
  "Sign in" until the Streamlit run has finished and the map's deck.gl
  canvas, the ranking and two more animation frames are drawn; a
  *filter change*, a category not counted in the last minute, until the new
  figures, map and ranking are drawn;
- **grid leader** (390 × 844, a phone): the page interactive, until the run
  has finished and the Leaflet map of the grid is drawn;
- **analyst**: the page interactive; the *export of every layer* (grids,
  shops, cases of the last 365 days, checks, hotspots, GeoPackage), from
  "Prepare the files" until the download button is shown;
- a shop's **public page** (a plain HTTP page, no Streamlit): loaded;

each as a first visit (a new browser profile: nothing cached) and as
returning visits (one profile whose HTTP cache keeps the app's scripts),
after one visit on a freshly started server, reported apart.  Twice: alone
("quiet"), then while a second process (``--crowd``) keeps 5 supervisors and
20 grid leaders signed in, in a Chromium of its own, each reloading their page
(a whole run and draw) every ``--think`` seconds, at their own phase.

For each timed step the CPU seconds spent by the server (the Streamlit
process) and by the timing browser (every Chromium process of this one) are
reported apart, from psutil: with the crowd on, the server's share includes
its work for the crowd, and the crowd's own Chromium is counted in neither.
Bytes received by the page (websocket frames and HTTP bodies) are reported
per visit.  Prints Markdown for BENCHMARKS.md.  Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
from sqlalchemy import make_url, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard_bench import (  # noqa: E402
    CATEGORY_LABELS,
    OUT,
    PASSWORD,
    RUN_FINISHED_JS,
    city_database,
    fill_sign_in,
    next_frame,
    pick_category,
    wait_drawn,
    wait_run_finished,
)
from governance.auth import hash_password  # noqa: E402
from governance.catalog import MemberRole, Role  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.models import Grid, GridMember, Shop, User  # noqa: E402
from governance.public_view import SHOP_PATH  # noqa: E402

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
#: Accounts of the timing browser; the crowd's are ``crowd-supervisor-N`` and ``crowd-leader-N``.
TIMED = {"supervisor": "supervisor", "leader": "leader-timed", "analyst": "analyst"}
HEADINGS = {"supervisor": "District supervision", "leader": "My grid", "analyst": "Analysis and exports"}
ROLES = ("supervisor", "leader", "analyst", "public")


def add_accounts(url: str, *, supervisors: int, leaders: int) -> str:
    """The bench's accounts, once (existing ones are kept); returns a shop's public id."""
    engine = make_engine(url)
    password = hash_password(PASSWORD)
    wanted = [("analyst", Role.ANALYST), (TIMED["leader"], Role.GRID_LEADER)]
    wanted += [(f"crowd-supervisor-{i}", Role.SUPERVISOR) for i in range(1, supervisors + 1)]
    wanted += [(f"crowd-leader-{i}", Role.GRID_LEADER) for i in range(1, leaders + 1)]
    with transaction(engine) as session:
        have = set(session.scalars(select(User.username)))
        grid_ids = session.scalars(select(Grid.id).order_by(Grid.id)).all()
        leader_number = 0
        for username, role in wanted:
            leader_number += role == Role.GRID_LEADER
            if username in have:
                continue
            user = User(username=username, display_name=username, role=role, password_hash=password)
            session.add(user)
            session.flush()
            if role == Role.GRID_LEADER:  # grids spread over the lattice, one each
                grid_id = grid_ids[(leader_number * 4_801) % len(grid_ids)]
                session.add(GridMember(grid_id=grid_id, user_id=user.id, role=MemberRole.LEADER, name=username))
        public_id = session.scalar(select(Shop.public_id).order_by(Shop.id).limit(1))
    engine.dispose()
    return public_id


class CpuMeter:
    """CPU seconds of the server process and of the timing browser's processes.

    A process that ends between two readings loses its last time (a closed tab's
    renderer): the browser's share is a lower bound by that much.
    """

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.excluded: set[int] = set()

    def exclude_tree(self, pid: int) -> None:
        """Leave out ``pid`` and its descendants (the crowd's process and its Chromium)."""
        self.excluded.add(pid)

    def reading(self) -> dict[int, tuple[str, float]]:
        out = {}
        skip: set[int] = set()
        for pid in self.excluded:
            with contextlib.suppress(psutil.NoSuchProcess):
                skip |= {pid} | {p.pid for p in psutil.Process(pid).children(recursive=True)}
        for process in self.me.children(recursive=True):
            if process.pid in skip:
                continue
            try:
                name = " ".join(process.cmdline()[:4])
                times = process.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            kind = "server" if "streamlit" in name else "browser" if "chrom" in name else None
            if kind:
                out[process.pid] = (kind, times.user + times.system)
        return out

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        totals = {"server": 0.0, "browser": 0.0}
        for pid, (kind, cpu) in after.items():
            totals[kind] += cpu - before.get(pid, (kind, 0.0))[1]
        return totals


class Recorder:
    """Timed steps: wall seconds, the server's and the browser's CPU seconds, bytes received."""

    def __init__(self, meter: CpuMeter) -> None:
        self.meter = meter
        self.rows: list[dict] = []

    def step(self, role: str, visit: str, step: str, action, *, received: list[int] | None = None) -> dict:
        before = self.meter.reading()
        if received is not None:
            received[0] = 0
        start = time.perf_counter()
        action()
        wall = time.perf_counter() - start
        cpu = CpuMeter.spent(before, self.meter.reading())
        row = {"role": role, "visit": visit, "step": step, "wall": wall, **cpu,
               "bytes": received[0] if received is not None else None}
        self.rows.append(row)
        print(f"  {role} / {visit} / {step}: {wall:.2f} s (server CPU {cpu['server']:.2f} s, "
              f"browser CPU {cpu['browser']:.2f} s" + (f", {received[0] / 1e6:.2f} MB" if received else "") + ")",
              file=sys.stderr)
        return row


def _count_bytes(page) -> list[int]:
    """A counter of what ``page`` receives: websocket frames and HTTP response bodies."""
    received = [0]

    def on_frame(payload) -> None:
        received[0] += len(payload)

    def on_finished(request) -> None:
        # A request of a page already closed has no sizes left to read.
        with contextlib.suppress(Exception):
            received[0] += request.sizes()["responseBodySize"]

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    page.on("requestfinished", on_finished)
    return received


def _signed_in_page(context, base: str, role: str, recorder: Recorder, visit: str, viewport: dict):
    page = context.new_page()
    page.set_viewport_size(viewport)
    page.set_default_timeout(600_000)
    received = _count_bytes(page)
    fill_sign_in(page, base, TIMED[role])

    def sign_in_and_draw() -> None:
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name=HEADINGS[role]).wait_for()
        if role == "supervisor":
            wait_drawn(page)
            return
        wait_run_finished(page)
        if role == "leader":
            frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']").first
            frame.locator(".leaflet-container").wait_for()
            frame.locator(".leaflet-container canvas").first.wait_for()  # the grid drawn (prefer_canvas)
            frame.get_by_text("Grid status (worst open case)").wait_for()
        next_frame(page)

    recorder.step(role, visit, "page interactive", sign_in_and_draw, received=received)
    return page, received


def _export_everything(page) -> None:
    page.get_by_role("button", name="Prepare the files").click()
    page.get_by_role("button", name=re.compile(r"^Download .*\.gpkg")).wait_for()
    wait_run_finished(page)


def visit(context, base: str, role: str, recorder: Recorder, visit: str, *, pick: str, public_id: str) -> None:
    """One visit of ``role``: its page, then the step its user takes next."""
    if role == "public":
        page = context.new_page()
        page.set_viewport_size(PHONE)
        received = _count_bytes(page)
        url = base + SHOP_PATH.format(public_id=public_id) + "?lang=en"
        recorder.step(role, visit, "page loaded", lambda: page.goto(url, wait_until="load"), received=received)
        page.close()
        return
    viewport = PHONE if role == "leader" else DESKTOP
    page, _ = _signed_in_page(context, base, role, recorder, visit, viewport)
    if role == "supervisor":
        recorder.step(role, visit, "filter change", lambda: pick_category(page, pick, visit))
    elif role == "analyst":
        recorder.step(role, visit, "export of every layer", lambda: _export_everything(page))
    if visit == "returning 1":
        page.screenshot(path=str(OUT / f"roles-{role}.png"), full_page=role != "supervisor")
    page.close()


def start_crowd(base: str, *, supervisors: int, leaders: int, think: float) -> subprocess.Popen:
    """The crowd in a process (and Chromium) of its own; returns once all are signed in."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--crowd", base, "--supervisors", str(supervisors),
         "--leaders", str(leaders), "--think", str(think)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"the crowd did not sign in: {line!r}")
    return process


def stop_crowd(process: subprocess.Popen) -> dict:
    """Stop the crowd; its reloads' timings (empty if it ended without them)."""
    out, _ = process.communicate("stop\n", timeout=300)
    lines = out.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        print(f"the crowd ended with exit code {process.returncode} and no timings", file=sys.stderr)
        return {}


async def _crowd_sign_in(page, base: str, username: str, heading: str) -> None:
    await page.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
    await page.get_by_role("textbox", name="User name").fill(username)
    await page.get_by_role("textbox", name="Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name=heading).wait_for()


async def _crowd_member(browser, base: str, username: str, heading: str, viewport: dict, think: float,
                        stop: asyncio.Event, timings: dict, rng: random.Random, signed_in: asyncio.Event) -> None:
    """One crowd member: signs in, then reloads their page every ``think`` seconds (about).

    A reload that fails (not drawn within two minutes) is counted and the member signs in
    again: the crowd keeps its load on the server whatever happens to one of them.
    """
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    page.set_default_timeout(120_000)
    try:
        await _crowd_sign_in(page, base, username, heading)
    finally:
        signed_in.set()  # (or failed to: the others do not wait for them)
    await asyncio.sleep(think * rng.random())  # each at their own phase
    while not stop.is_set():
        start = time.perf_counter()
        try:
            await page.reload(wait_until="domcontentloaded")  # the cookie keeps them signed in
            await page.get_by_role("heading", name=heading).wait_for()
            await page.wait_for_function(RUN_FINISHED_JS)
            timings["reloads"].append(time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 -- counted and reported; the member carries on
            timings["failed"].append(f"{username}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
            with contextlib.suppress(Exception):
                await _crowd_sign_in(page, base, username, heading)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), think * rng.uniform(0.75, 1.25))
    await context.close()


async def crowd(base: str, *, supervisors: int, leaders: int, think: float) -> None:
    """Run the crowd until a line arrives on stdin; print its reloads' timings as JSON."""
    from playwright.async_api import async_playwright

    from tests.conftest import CHROMIUM_ARGS

    rng = random.Random(27)
    stop = asyncio.Event()
    timings = {role: {"reloads": [], "failed": []} for role in ("supervisor", "leader")}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                                   args=CHROMIUM_ARGS)
        members = [("supervisor", f"crowd-supervisor-{i}", DESKTOP) for i in range(1, supervisors + 1)]
        members += [("leader", f"crowd-leader-{i}", PHONE) for i in range(1, leaders + 1)]
        # Signed in a few at a time, as people arrive; then all work at once.
        tasks, arrived = [], []
        for i, (role, username, viewport) in enumerate(members):
            arrived.append(asyncio.Event())
            tasks.append(asyncio.create_task(_crowd_member(
                browser, base, username, HEADINGS[role], viewport, think, stop, timings[role], rng, arrived[-1])))
            if i % 5 == 4:
                await asyncio.sleep(5)
        for event in arrived:  # everyone signed in, then a round of reloads begun
            await event.wait()
        await asyncio.sleep(think / 2)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stop.set()
        for (role, username, _), outcome in zip(members, await asyncio.gather(*tasks, return_exceptions=True),
                                                strict=True):
            if isinstance(outcome, BaseException):
                timings[role]["failed"].append(f"{username} stopped: {type(outcome).__name__}")
        await browser.close()
    print(json.dumps(timings), flush=True)


def measure(url: str, *, runs: int, crowd_size: tuple[int, int] | None, think: float, public_id: str) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM_ARGS, running_app

    meter = CpuMeter()
    recorder = Recorder(meter)
    picks = iter(range(10_000))
    label = "crowd" if crowd_size else "quiet"
    crowd_process = None
    crowd_timings: dict = {}
    with running_app(url, OUT / f"roles-bench-{label}.log") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            for role in ROLES:  # the freshly started server's first visits: reported apart
                visit(context, base, role, recorder, "fresh server",
                      pick=CATEGORY_LABELS[next(picks) % 10], public_id=public_id)
            context.close()
            if crowd_size:
                crowd_process = start_crowd(base, supervisors=crowd_size[0], leaders=crowd_size[1], think=think)
                meter.exclude_tree(crowd_process.pid)
            for run in range(1, runs + 1):
                for role in ROLES:
                    context = browser.new_context()
                    visit(context, base, role, recorder, f"first {run}",
                          pick=CATEGORY_LABELS[next(picks) % 10], public_id=public_id)
                    context.close()
            for role in ROLES:
                context = browser.new_context()
                visit(context, base, role, Recorder(meter), "returning 0",  # fills the HTTP cache, not kept
                      pick=CATEGORY_LABELS[next(picks) % 10], public_id=public_id)
                for run in range(1, runs + 1):
                    visit(context, base, role, recorder, f"returning {run}",
                          pick=CATEGORY_LABELS[next(picks) % 10], public_id=public_id)
                context.close()
        finally:
            if crowd_process is not None:
                crowd_timings = stop_crowd(crowd_process)
            browser.close()
    return {"rows": recorder.rows, "crowd": crowd_timings}


TARGETS = {"page interactive": "≤ 1.5 s", "page loaded": "≤ 1.5 s", "filter change": "≤ 0.6 s",
           "export of every layer": "≤ 20 s"}


def print_tables(results: dict[str, dict], *, crowd_size: tuple[int, int]) -> None:
    """One table: rows (role, step), columns per run kind (quiet, crowd) and visit kind."""
    med = statistics.median
    keys = []
    for result in results.values():
        for row in result["rows"]:
            if (row["role"], row["step"]) not in keys:
                keys.append((row["role"], row["step"]))
    kinds = [(name, kind) for name in results for kind in ("fresh server", "first", "returning")]
    print("| role | step | " + " | ".join(f"{name}: {kind}" for name, kind in kinds) + " | target |")
    print("|---|---|" + "---|" * len(kinds) + "---|")
    for role, step in keys:
        cells = []
        for name, kind in kinds:
            rows = [r for r in results[name]["rows"]
                    if r["role"] == role and r["step"] == step and r["visit"].startswith(kind)]
            if not rows:
                cells.append("")
                continue
            walls = [r["wall"] for r in rows]
            middle = sorted(rows, key=lambda r: r["wall"])[len(rows) // 2]
            cell = f"**{med(walls):.2f} s**" + (f" ({min(walls):.2f}–{max(walls):.2f})" if len(rows) > 1 else "")
            cell += f"; CPU server {middle['server']:.2f} / browser {middle['browser']:.2f} s"
            if middle["bytes"]:
                cell += f"; {middle['bytes'] / 1e6:.2f} MB"
            cells.append(cell)
        print(f"| {role} | {step} | " + " | ".join(cells) + f" | {TARGETS.get(step, '')} |")
    for name, result in results.items():
        for role, found in result.get("crowd", {}).items():
            values = sorted(found["reloads"])
            if values:
                print(f"\n{name}: the crowd's {role}s ({crowd_size[0] if role == 'supervisor' else crowd_size[1]}) "
                      f"reloaded {len(values)} times; reload until the run finished: median {med(values):.2f} s, "
                      f"p95 {values[int(0.95 * (len(values) - 1))]:.2f} s; {len(found['failed'])} reloads failed.")
            for failure in found["failed"][:5]:
                print(f"  failed: {failure}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--shops-per-grid", type=int, default=10)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="visits of each kind (first, returning) per role")
    parser.add_argument("--supervisors", type=int, default=5, help="the crowd's supervisors")
    parser.add_argument("--leaders", type=int, default=20, help="the crowd's grid leaders")
    parser.add_argument("--think", type=float, default=30.0, help="seconds between a crowd member's reloads")
    parser.add_argument("--no-crowd", action="store_true", help="the quiet runs only")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to build in and measure "
                        "(default: a SQLite file under bench/out/)")
    parser.add_argument("--crowd", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.crowd:
        asyncio.run(crowd(args.crowd, supervisors=args.supervisors, leaders=args.leaders, think=args.think))
        return
    url = city_database(args.database_url, n_grids=args.grids, shops_per_grid=args.shops_per_grid,
                        n_cases=args.cases)
    public_id = add_accounts(url, supervisors=args.supervisors, leaders=args.leaders)
    crowd_size = (args.supervisors, args.leaders)
    kept = OUT / f"roles-bench-{make_url(url).get_backend_name()}.json"
    results = {"quiet": measure(url, runs=args.runs, crowd_size=None, think=args.think, public_id=public_id)}
    kept.write_text(json.dumps(results, indent=1))  # kept if the crowd's run fails
    if not args.no_crowd:
        results["crowd"] = measure(url, runs=args.runs, crowd_size=crowd_size, think=args.think, public_id=public_id)
    print(f"\n{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{make_url(url).get_backend_name()}, {args.grids:,} grids, {args.grids * args.shops_per_grid:,} shops, "
          f"{args.cases:,} cases; load average {os.getloadavg()[0]:.1f} after the runs\n")
    print_tables(results, crowd_size=crowd_size)
    kept.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
