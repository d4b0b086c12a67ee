"""Load test (issues 7, 25): grid leaders file and advance cases while supervisors read.

Not a test run by pytest (``tests/test_concurrent_leaders.py`` runs a short
version of the same code and asserts the integrity properties).  Loopback
only, bounded in workers and time, stops by itself.

``--leaders`` simulated grid leaders (threads, each with its own engine and
so its own database connection) run for ``--seconds``.  Each leader belongs
to their own grid and to one shared market grid (``B00001``) that every leader
patrols, so leaders race for the same cases there.  A leader's step is: file
a case (30 %), or pick an open case in their grids and move it one step
along the loop (take_on, resolve, confirm or reopen) through
``governance.workflow.transition`` with the version they read.  With
``--rate R`` each leader takes R steps a second (at its own phase; a step
that finds nothing to move still counts its pick), else one step as soon as
the last is done.  ``--supervisors`` threads read their page's data (the
district's loop summary with its checks due, the most urgent open cases for
the map, the early warnings) and wait ``--think`` seconds between reads.

The district is a lattice of square grids (``bench/governance_bench.py``'s
synthetic city): ``--city-grids`` grids with ten shops each and
``--city-cases`` cases over the past year already in it (about 5 % open;
written in bulk, without history rows), so a step's queries run against a
city-sized table.  Leaders only move the cases filed during the run.

Afterwards it checks, from the database:

- **no lost update**: every change a leader saw committed is in the history
  (case, seq, action, actor), and the history holds nothing else;
- **no doubled transition**: each (case, seq) once; version == rows;
- **no history gap**: seq runs 1..version for every case, each row starts
  where the previous ended, and the last row ends in the case's state;
- **no deadlock**: no worker hit a deadlock or any error other than a
  ``VersionConflict`` (the expected loser of a race), and every thread ended
  within the time plus a grace period;
- the stored loop summary agrees with a count of the cases table;
- the stored closed-work figures (per grid and per grid and category) equal
  a full recount from the cases (``figures.closed_figures``).

Usage (PostGIS; a schema of its own, dropped afterwards)::

    .venv/bin/python bench/load_test.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --leaders 100 --rate 1 --supervisors 2 --seconds 60 --city-grids 10000 --city-cases 1000000

``--url sqlite`` uses a temporary SQLite file (WAL).  ``--markdown`` prints
the rows for BENCHMARKS.md; ``--json`` the raw result.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import shapely  # noqa: E402
from sqlalchemy import Engine, event, func, make_url, select, text  # noqa: E402

from bench.governance_bench import generate, load, vacuum_analyze  # noqa: E402
from governance.catalog import OPEN_STATES, MemberRole, Role  # noqa: E402
from governance.check_due import checks_due_counts  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.early_warnings import early_warnings  # noqa: E402
from governance.errors import DatabaseBusy, VersionConflict  # noqa: E402
from governance.figures import FIGURES, closed_figures, refresh_grid_stats  # noqa: E402
from governance.filters import CaseFilter  # noqa: E402
from governance.loop_summary import grid_loop_summary  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import (  # noqa: E402  # noqa: E402
    Case,
    CaseHistory,
    Grid,
    GridCategoryStats,
    GridMember,
    GridStats,
    User,
)
from governance.permissions import system_viewer, viewer_for  # noqa: E402
from governance.queries import cases_frame  # noqa: E402
from governance.workflow import file_case, transition  # noqa: E402

NEXT = {"warning": ["take_on"], "in_progress": ["resolve"], "follow_up": ["confirm", "confirm", "confirm", "reopen"]}
SHARED = "B00001"
MAX_SECONDS = 600
MAX_LEADERS = 200
CASE_POINT_LIMIT = 3000  # the supervisor map's open cases (dashboard.data)


@dataclass
class Worker:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"file": [], "transition": []})
    committed: list[tuple[int, int, str]] = field(default_factory=list)  # (case_id, seq, action)
    conflicts: int = 0
    idle: int = 0  # picks that found no open case to move
    late: int = 0  # ticks missed because the previous step ran past them
    busy: int = 0  # steps refused as "busy, try again" (a lock or pool wait past its limit)
    errors: list[str] = field(default_factory=list)


def leader_code(index: int) -> str:
    return f"B{index + 2:05d}"


def seed(engine: Engine, leaders: int, *, city_grids: int = 0, city_cases: int = 0, seed_: int = 4) -> int:
    """The synthetic city (at least a shared grid and one grid per leader), its prefilled cases and
    the accounts; each leader in the shared grid and their own.  Returns the last prefilled case id."""
    data = generate(max(city_grids, leaders + 1), city_cases, 10, seed_)
    load(engine, data)
    with transaction(engine) as session:
        grids = dict(session.execute(select(Grid.code, Grid.id)).all())
        users = [User(username=f"leader{i + 1:03d}", display_name=f"Leader {i + 1}", role=Role.GRID_LEADER)
                 for i in range(leaders)]
        users.append(User(username="supervisor", display_name="Supervisor", role=Role.SUPERVISOR))
        session.add_all(users)
        session.flush()
        for i, user in enumerate(users[:leaders]):
            for code in (SHARED, leader_code(i)):
                session.add(GridMember(grid_id=grids[code], user_id=user.id, role=MemberRole.LEADER,
                                       name=user.display_name))
        session.flush()
        refresh_grid_stats(session)
        last = session.scalar(select(func.max(Case.id))) or 0
    if city_cases:  # statistics and the visibility map, as autovacuum keeps them on a live database
        vacuum_analyze(engine)
    return int(last)


def _grid_boxes(engine: Engine) -> dict[str, tuple[float, float, float, float]]:
    with transaction(engine) as session:
        return {code: shapely.bounds(geometry) for code, geometry in session.execute(select(Grid.code, Grid.geometry))}


def _file(engine, viewer, worker: Worker, rng: random.Random, box) -> None:
    x0, y0, x1, y1 = box
    lon = x0 + (x1 - x0) * rng.uniform(0.1, 0.9)
    lat = y0 + (y1 - y0) * rng.uniform(0.1, 0.9)
    started = time.perf_counter()
    with transaction(engine) as session:
        case = file_case(session, viewer, kind="patrol", category=rng.choice(["gas", "fumes", "noise"]),
                         severity=rng.choice(["low", "medium", "high"]), title=f"{worker.name} 巡查",
                         lon=lon, lat=lat)
        done = (case.id, 1, "raise")
    worker.latencies["file"].append(time.perf_counter() - started)
    worker.committed.append(done)


def _move(engine, viewer, worker: Worker, rng: random.Random, base_case_id: int) -> None:
    with transaction(engine) as session:
        rows = session.execute(
            select(Case.id, Case.version, Case.state).where(
                Case.grid_id.in_(sorted(viewer.grid_ids)), Case.state != "closed", Case.id > base_case_id,
            ).order_by(func.random()).limit(1)
        ).all()
    if not rows:
        worker.idle += 1
        return
    case_id, version, state = rows[0]
    action = rng.choice(NEXT[str(state)])
    started = time.perf_counter()
    try:
        with transaction(engine) as session:
            case = transition(session, viewer, case_id, action, expected_version=version,
                              note=f"{worker.name} {action}")
            done = (case_id, case.version, action)
    except VersionConflict:
        worker.conflicts += 1
        worker.latencies["transition"].append(time.perf_counter() - started)
        return
    worker.latencies["transition"].append(time.perf_counter() - started)
    worker.committed.append(done)


def _leader(engine: Engine, index: int, stop: threading.Event, worker: Worker, seed_: int, *,
            boxes: dict, base_case_id: int, rate: float | None) -> None:
    rng = random.Random(seed_ * 1000 + index)
    period = 1.0 / rate if rate else 0.0
    try:
        viewer = _signed_in(engine, worker.name, stop)
        own = leader_code(index)
        next_at = time.monotonic() + rng.uniform(0, period)  # leaders at their own phase, not in lockstep
        while not stop.is_set():
            if period:
                wait = next_at - time.monotonic()
                if wait > 0:
                    stop.wait(wait)
                    if stop.is_set():
                        break
                elif wait < -period:  # the last step overran whole ticks: skip them, count them
                    worker.late += int(-wait // period)
                    next_at = time.monotonic()
                next_at += period
            try:
                if rng.random() < 0.3:
                    _file(engine, viewer, worker, rng, boxes[SHARED if rng.random() < 0.5 else own])
                else:
                    _move(engine, viewer, worker, rng, base_case_id)
            except DatabaseBusy:  # the page's "busy, try again": counted, not a failure
                worker.busy += 1
            except Exception as exc:  # anything but a version conflict is a failure of the test
                worker.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                if len(worker.errors) > 20:
                    return
    except Exception as exc:
        worker.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def _signed_in(engine: Engine, username: str, stop: threading.Event):
    while True:  # a pool full at the start is "busy, try again", as for a step
        try:
            with transaction(engine) as session:
                return viewer_for(session, username)
        except DatabaseBusy:
            if stop.wait(0.5):
                raise


def supervisor_page_reads(session, viewer) -> int:
    """The database reads of the supervisor page as it opens (dashboard.data.supervisor_view and the
    early warnings): the loop summary with its checks due, the most urgent open cases."""
    checks = checks_due_counts(session, viewer)
    summary = grid_loop_summary(session, viewer, checks=checks)
    open_cases = cases_frame(session, viewer, filters=CaseFilter(states=tuple(s.value for s in OPEN_STATES)),
                             limit=CASE_POINT_LIMIT, urgent_first=True)
    warnings = early_warnings(session, viewer)
    return len(summary) + len(open_cases) + len(warnings)


def _supervisor(engine: Engine, stop: threading.Event, latencies: list[float], errors: list[str],
                think: float) -> None:
    try:
        viewer = _signed_in(engine, "supervisor", stop)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                with transaction(engine) as session:
                    assert supervisor_page_reads(session, viewer) >= 1
            except Exception as exc:
                errors.append(f"supervisor {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                return
            latencies.append(time.perf_counter() - started)
            stop.wait(think)
    except Exception as exc:
        errors.append(f"supervisor {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def figures_problems(session) -> list[str]:
    """Where the stored closed-work figures differ from a full recount of the cases."""
    problems = []
    for model, by_category in ((GridStats, False), (GridCategoryStats, True)):
        keys = [model.grid_id, model.category] if by_category else [model.grid_id]
        index = ["grid_id", "category"] if by_category else ["grid_id"]
        stored = {tuple(row[: len(keys)]): row[len(keys):] for row in
                  session.execute(select(*keys, *(getattr(model, f) for f in FIGURES))).all()}
        counted = closed_figures(session, by_category=by_category)
        for key, row in counted.reset_index().set_index(index).iterrows():
            key = key if isinstance(key, tuple) else (key,)
            key = (int(key[0]), *key[1:])
            kept = stored.get(key)
            want = [None if (f == "median_days_to_close" and row[f] != row[f]) else row[f] for f in FIGURES]
            if kept is None or list(kept) != want:
                problems.append(f"{model.__tablename__} {key}: stored {kept}, recount {want}")
    return problems[:5] + ([f"... {len(problems) - 5} more"] if len(problems) > 5 else [])


def check_integrity(engine: Engine, workers: list[Worker], *, base_case_id: int = 0) -> dict:
    """The properties a governance record must keep; a list of problems (empty when all hold).

    History is checked for the cases filed during the run (the prefilled city has none)."""
    problems: list[str] = []
    with transaction(engine) as session:
        cases = {cid: (version, str(state)) for cid, version, state in
                 session.execute(select(Case.id, Case.version, Case.state).where(Case.id > base_case_id)).all()}
        history = session.execute(
            select(CaseHistory.case_id, CaseHistory.seq, CaseHistory.action, CaseHistory.from_state,
                   CaseHistory.to_state, CaseHistory.details)
            .order_by(CaseHistory.case_id, CaseHistory.seq)
        ).all()
        summary = grid_loop_summary(session, system_viewer())
        counted = Counter(
            (code, str(state)) for code, state in
            session.execute(select(Grid.code, Case.state).join(Grid, Grid.id == Case.grid_id)).all()
        )
        problems.extend(figures_problems(session))
    by_case: dict[int, list] = {}
    seen: Counter = Counter()
    for row in history:
        by_case.setdefault(row.case_id, []).append(row)
        seen[(row.case_id, row.seq)] += 1
    doubled = [k for k, n in seen.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} (case, seq) pairs written twice, e.g. {doubled[:3]}")
    for cid, (version, state) in cases.items():
        rows = by_case.get(cid, [])
        if [r.seq for r in rows] != list(range(1, version + 1)):
            problems.append(f"case {cid}: history seq {[r.seq for r in rows]} but version {version}")
            continue
        previous = None
        for r in rows:
            if (None if r.from_state is None else str(r.from_state)) != previous:
                problems.append(f"case {cid} seq {r.seq}: starts from {r.from_state}, case was {previous}")
            previous = str(r.to_state)
        if previous != state:
            problems.append(f"case {cid}: history ends in {previous}, case is {state}")
    claimed = {(cid, seq): (action, w.name) for w in workers for cid, seq, action in w.committed}
    stored = {(r.case_id, r.seq): (r.action, (r.details or {}).get("actor")) for r in history}
    lost = [k for k in claimed if stored.get(k) != claimed[k]]
    if lost:
        problems.append(f"{len(lost)} committed changes are not in the history as committed, e.g. "
                        f"{[(k, claimed[k], stored.get(k)) for k in lost[:3]]}")
    extra = [k for k in stored if k not in claimed]
    if extra:
        problems.append(f"{len(extra)} history rows that no worker saw commit, e.g. {extra[:3]}")
    for _, row in summary.iterrows():
        for state in ("warning", "in_progress", "follow_up", "closed"):
            if int(row[state]) != counted.get((row["code"], state), 0):
                problems.append(f"summary {row['code']} {state}={int(row[state])}, "
                                f"cases table has {counted.get((row['code'], state), 0)}")
    errors = [e for w in workers for e in w.errors]
    deadlocks = [e for e in errors if "deadlock" in e.lower()]
    if deadlocks:
        problems.append(f"{len(deadlocks)} deadlocks, e.g. {deadlocks[0]}")
    if errors:
        problems.append(f"{len(errors)} worker errors, e.g. {errors[:3]}")
    return {"cases": len(cases), "history_rows": len(history), "problems": problems}


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def run_load(url: str, *, leaders: int = 50, seconds: float = 60.0, seed_: int = 0, grace: float = 30.0,
             rate: float | None = None, supervisors: int = 1, think: float = 0.05, city_grids: int = 0,
             city_cases: int = 0) -> dict:
    # Long: seed, start the threads, stop them, check and gather the figures: one run, read top to bottom.
    """Seed a migrated, empty database at ``url``, run the load, check integrity; return the figures."""
    if not 1 <= leaders <= MAX_LEADERS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"bounded: 1..{MAX_LEADERS} leaders, at most {MAX_SECONDS} s")
    backend = make_url(url).get_backend_name()
    if backend == "postgresql" and make_url(url).host not in (None, "", "127.0.0.1", "localhost", "::1"):
        raise ValueError("the load test runs against a loopback database only")
    engine = make_engine(url)
    base_case_id = seed(engine, leaders, city_grids=city_grids, city_cases=city_cases)
    boxes = _grid_boxes(engine)
    # One engine for every leader and supervisor, as the dashboard's one server process has:
    # its pool (LINPU_DB_POOL_*) is what they share and wait for.
    server = make_engine(url, check=False)
    stop = threading.Event()
    workers = [Worker(f"leader{i + 1:03d}") for i in range(leaders)]
    summary_latency: list[float] = []
    supervisor_errors: list[str] = []
    threads = [threading.Thread(target=_leader, args=(server, i, stop, w, seed_), daemon=True,
                                kwargs={"boxes": boxes, "base_case_id": base_case_id, "rate": rate})
               for i, w in enumerate(workers)]
    threads += [threading.Thread(target=_supervisor, args=(server, stop, summary_latency, supervisor_errors, think),
                                 daemon=True) for _ in range(supervisors)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    load_during = os.getloadavg()[0]
    stop.set()
    deadline = time.monotonic() + grace
    for t in threads[:leaders]:
        t.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - started
    hung = sum(t.is_alive() for t in threads[:leaders])
    # A supervisor stops after the page read under way, which may take long on a loaded city.
    for t in threads[leaders:]:
        t.join(MAX_SECONDS)
    server.dispose()
    integrity = check_integrity(engine, workers, base_case_id=base_case_id)
    if hung:
        integrity["problems"].append(f"{hung} threads still running {grace:.0f} s after the stop (deadlock?)")
    if supervisor_errors:
        integrity["problems"].extend(supervisor_errors)
    engine.dispose()
    files = [x for w in workers for x in w.latencies["file"]]
    moves = [x for w in workers for x in w.latencies["transition"]]
    steps = files + moves
    committed = sum(len(w.committed) for w in workers)
    return {
        "backend": backend, "leaders": leaders, "rate_per_leader": rate, "supervisors": supervisors,
        "city": {"grids": max(city_grids, leaders + 1), "prefilled_cases": base_case_id},
        "seconds": round(elapsed, 1),
        "cases_filed": len(files), "transitions_committed": committed - len(files),
        "version_conflicts": sum(w.conflicts for w in workers), "idle_picks": sum(w.idle for w in workers),
        "missed_ticks": sum(w.late for w in workers), "busy_refusals": sum(w.busy for w in workers),
        "steps_per_s": round(len(steps) / elapsed, 1), "writes_per_s": round(committed / elapsed, 1),
        "step_ms": {"p50": _pct(steps, 50), "p95": _pct(steps, 95), "p99": _pct(steps, 99)},
        "file_ms": {"p50": _pct(files, 50), "p95": _pct(files, 95), "p99": _pct(files, 99)},
        "transition_ms": {"p50": _pct(moves, 50), "p95": _pct(moves, 95), "p99": _pct(moves, 99)},
        "summary_reads": len(summary_latency),
        "summary_ms": {"p50": _pct(summary_latency, 50), "p95": _pct(summary_latency, 95)},
        "load_avg_1m": {"before": round(load_before, 2), "end_of_run": round(load_during, 2)},
        **integrity,
    }


def profile_steps(url: str, steps: int, *, base_case_id: int, seed_: int = 0, top: int = 30) -> str:
    """``steps`` steps of one leader, one after another, under cProfile: where a step's time goes,
    and how many SQL statements (round trips) each kind of step sends."""
    engine = make_engine(url, check=False)
    statements = Counter()
    current = {"kind": None}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        statements[current["kind"]] += 1

    boxes = _grid_boxes(engine)
    worker = Worker("leader001")
    rng = random.Random(seed_)
    with transaction(engine) as session:
        viewer = viewer_for(session, worker.name)
    profiler = cProfile.Profile()
    kinds = Counter()
    for _ in range(steps):
        kind = "file" if rng.random() < 0.3 else "move"
        current["kind"] = kind
        before = len(worker.latencies["file"]) + len(worker.latencies["transition"])
        profiler.enable()
        if kind == "file":
            _file(engine, viewer, worker, rng, boxes[SHARED if rng.random() < 0.5 else leader_code(0)])
        else:
            _move(engine, viewer, worker, rng, base_case_id)
        profiler.disable()
        kinds[kind] += len(worker.latencies["file"]) + len(worker.latencies["transition"]) - before
    engine.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    moves = worker.latencies["transition"]
    out.write(f"steps: {dict(kinds)}; statements per filed case (with its pick-free transaction): "
              f"{statements['file'] / max(1, kinds['file']):.1f}; per move (pick + step): "
              f"{statements['move'] / max(1, kinds['move']):.1f}; "
              f"file p50 {_pct(worker.latencies['file'], 50)} ms, move p50 {_pct(moves, 50)} ms\n")
    return out.getvalue()


@contextmanager
def database(url: str):
    """A fresh, migrated database: a temporary SQLite file, or a schema of its own on PostgreSQL."""
    if url == "sqlite":
        with tempfile.TemporaryDirectory(prefix="linpu-load-") as folder:
            target = f"sqlite:///{folder}/load.sqlite3"
            engine = make_engine(target)
            upgrade(engine)
            engine.dispose()
            yield target
        return
    schema = f"load_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    target = make_url(url).update_query_dict({"options": f"-csearch_path={schema},public"})
    target = target.render_as_string(hide_password=False)
    try:
        engine = make_engine(target)
        upgrade(engine)
        engine.dispose()
        yield target
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("LINPU_TEST_DATABASE_URL", "sqlite"),
                        help="PostgreSQL URL (loopback) or 'sqlite' for a temporary file")
    parser.add_argument("--leaders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=None,
                        help="steps a second per leader (default: each step as soon as the last is done)")
    parser.add_argument("--supervisors", type=int, default=1)
    parser.add_argument("--think", type=float, default=1.0, help="seconds a supervisor waits between page reads")
    parser.add_argument("--city-grids", type=int, default=0, help="grids of the synthetic city (10 shops each)")
    parser.add_argument("--city-cases", type=int, default=0, help="cases already in the city (past year)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile-steps", type=int, default=0,
                        help="after the run, this many steps of one leader under cProfile (printed)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with database(args.url) as url:
        result = run_load(url, leaders=args.leaders, seconds=args.seconds, seed_=args.seed, rate=args.rate,
                          supervisors=args.supervisors, think=args.think, city_grids=args.city_grids,
                          city_cases=args.city_cases)
        if args.profile_steps:
            print(profile_steps(url, args.profile_steps, base_case_id=result["city"]["prefilled_cases"]))
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    result["commit"] = _commit()
    result["command"] = " ".join(["bench/load_test.py", *sys.argv[1:]])
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if args.markdown:
        r = result
        print(f"| {r['commit']} | {r['backend']} | {r['leaders']} × {r['rate_per_leader'] or 'max'}/s | "
              f"{r['supervisors']} | {r['city']['grids']:,} / {r['city']['prefilled_cases']:,} | "
              f"{r['steps_per_s']} | {r['step_ms']['p50']} / {r['step_ms']['p95']} / {r['step_ms']['p99']} | "
              f"{r['transition_ms']['p95']} | {r['file_ms']['p95']} | {r['version_conflicts']} | "
              f"{r['summary_ms']['p50']} / {r['summary_ms']['p95']} ({r['summary_reads']}) | "
              f"{r['load_avg_1m']['before']} / {r['load_avg_1m']['end_of_run']} | "
              f"{'none' if not r['problems'] else len(r['problems'])} |")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
