"""Load test (issue 7): grid leaders file and advance cases while a supervisor reads.

Not a test run by pytest (``tests/test_concurrent_leaders.py`` runs a short
version of the same code and asserts the integrity properties).  Loopback
only, bounded in workers and time, stops by itself.

``--leaders`` simulated grid leaders (threads, each with its own engine and
so its own database connection) run for ``--seconds``.  Each leader belongs
to their own grid and to one shared market grid (``G000``) that every leader
patrols, so leaders race for the same cases there.  A leader's step is: file
a case (30 %), or pick an open case in their grids and move it one step
along the loop (take_on, resolve, confirm or reopen) through
``governance.workflow.transition`` with the version they read.  A
supervisor thread reads ``grid_loop_summary`` for the whole district in a
loop.

Afterwards it checks, from the database:

- **no lost update**: every change a leader saw committed is in the history
  (case, seq, action, actor), and the history holds nothing else;
- **no doubled transition**: each (case, seq) once; version == rows;
- **no history gap**: seq runs 1..version for every case, each row starts
  where the previous ended, and the last row ends in the case's state;
- **no deadlock**: no worker hit a deadlock or any error other than a
  ``VersionConflict`` (the expected loser of a race), and every thread ended
  within the time plus a grace period;
- the stored loop summary agrees with a count of the cases table.

Usage (PostGIS; a schema of its own, dropped afterwards)::

    .venv/bin/python bench/load_test.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --leaders 50 --seconds 60

``--url sqlite`` uses a temporary SQLite file (WAL).  ``--markdown`` prints
the rows for BENCHMARKS.md; ``--json`` the raw result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import shapely  # noqa: E402
from sqlalchemy import Engine, func, make_url, select, text  # noqa: E402

from governance.catalog import MemberRole, Role  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.errors import VersionConflict  # noqa: E402
from governance.figures import refresh_grid_stats  # noqa: E402
from governance.loop_summary import grid_loop_summary  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import Case, CaseHistory, Grid, GridGeneration, GridMember, User  # noqa: E402
from governance.permissions import system_viewer, viewer_for  # noqa: E402
from governance.workflow import file_case, transition  # noqa: E402

LON0, LAT0, STEP = 118.90, 25.10, 0.002  # about 200 m grids near Quanzhou
NEXT = {"warning": ["take_on"], "in_progress": ["resolve"], "follow_up": ["confirm", "confirm", "confirm", "reopen"]}
MAX_SECONDS = 600
MAX_LEADERS = 200


@dataclass
class Worker:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"file": [], "transition": []})
    committed: list[tuple[int, int, str]] = field(default_factory=list)  # (case_id, seq, action)
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


def seed(engine: Engine, leaders: int) -> None:
    """A shared market grid G000 and one grid per leader; each leader in both."""
    now = datetime.now(UTC)
    with transaction(engine) as session:
        generation = GridGeneration(method="load-test", is_current=True, created_at=now - timedelta(days=1))
        session.add(generation)
        session.flush()
        cols = 10
        grids = [Grid(generation_id=generation.id, code="G000", n_shops=10,
                      geometry=shapely.box(LON0 - STEP, LAT0, LON0, LAT0 + STEP))]
        for i in range(leaders):
            x, y = LON0 + (i % cols) * STEP, LAT0 + (i // cols) * STEP
            grids.append(Grid(generation_id=generation.id, code=f"G{i + 1:03d}", n_shops=10,
                              geometry=shapely.box(x, y, x + STEP, y + STEP)))
        session.add_all(grids)
        users = [User(username=f"leader{i + 1:03d}", display_name=f"Leader {i + 1}", role=Role.GRID_LEADER)
                 for i in range(leaders)]
        users.append(User(username="supervisor", display_name="Supervisor", role=Role.SUPERVISOR))
        session.add_all(users)
        session.flush()
        for i, user in enumerate(users[:leaders]):
            for grid in (grids[0], grids[i + 1]):
                session.add(GridMember(grid_id=grid.id, user_id=user.id, role=MemberRole.LEADER, name=user.display_name))
        session.flush()
        refresh_grid_stats(session)


def _centre(code: str, leaders: int) -> tuple[float, float]:
    if code == "G000":
        return LON0 - STEP / 2, LAT0 + STEP / 2
    i = int(code[1:]) - 1
    return LON0 + (i % 10) * STEP + STEP / 2, LAT0 + (i // 10) * STEP + STEP / 2


def _leader(url: str, index: int, leaders: int, stop: threading.Event, worker: Worker, seed_: int) -> None:
    rng = random.Random(seed_ * 1000 + index)
    engine = make_engine(url, check=False)
    try:
        with transaction(engine) as session:
            viewer = viewer_for(session, worker.name)
        own = f"G{index + 1:03d}"
        while not stop.is_set():
            try:
                if rng.random() < 0.3:
                    code = "G000" if rng.random() < 0.5 else own
                    lon, lat = _centre(code, leaders)
                    lon += rng.uniform(-0.4, 0.4) * STEP
                    lat += rng.uniform(-0.4, 0.4) * STEP
                    started = time.perf_counter()
                    with transaction(engine) as session:
                        case = file_case(session, viewer, kind="patrol", category=rng.choice(["gas", "fumes", "noise"]),
                                         severity=rng.choice(["low", "medium", "high"]), title=f"{worker.name} 巡查",
                                         lon=lon, lat=lat)
                        done = (case.id, 1, "raise")
                    worker.latencies["file"].append(time.perf_counter() - started)
                    worker.committed.append(done)
                    continue
                with transaction(engine) as session:
                    rows = session.execute(
                        select(Case.id, Case.version, Case.state).where(
                            Case.grid_id.in_(sorted(viewer.grid_ids)), Case.state != "closed"
                        ).order_by(func.random()).limit(1)
                    ).all()
                if not rows:
                    continue
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
                    continue
                worker.latencies["transition"].append(time.perf_counter() - started)
                worker.committed.append(done)
            except Exception as exc:  # anything but a version conflict is a failure of the test
                worker.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                if len(worker.errors) > 20:
                    return
    finally:
        engine.dispose()


def _supervisor(url: str, stop: threading.Event, latencies: list[float], errors: list[str]) -> None:
    engine = make_engine(url, check=False)
    try:
        with transaction(engine) as session:
            viewer = viewer_for(session, "supervisor")
        while not stop.is_set():
            started = time.perf_counter()
            try:
                with transaction(engine) as session:
                    summary = grid_loop_summary(session, viewer)
                    assert len(summary) >= 1
            except Exception as exc:
                errors.append(f"supervisor {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                return
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
    finally:
        engine.dispose()


def check_integrity(engine: Engine, workers: list[Worker]) -> dict:
    """The properties a governance record must keep; a list of problems (empty when all hold)."""
    problems: list[str] = []
    with transaction(engine) as session:
        cases = {cid: (version, str(state)) for cid, version, state in
                 session.execute(select(Case.id, Case.version, Case.state)).all()}
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


def run_load(url: str, *, leaders: int = 50, seconds: float = 60.0, seed_: int = 0, grace: float = 30.0) -> dict:
    """Seed a migrated, empty database at ``url``, run the load, check integrity; return the figures."""
    if not 1 <= leaders <= MAX_LEADERS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"bounded: 1..{MAX_LEADERS} leaders, at most {MAX_SECONDS} s")
    backend = make_url(url).get_backend_name()
    if backend == "postgresql" and make_url(url).host not in (None, "", "127.0.0.1", "localhost", "::1"):
        raise ValueError("the load test runs against a loopback database only")
    engine = make_engine(url)
    seed(engine, leaders)
    stop = threading.Event()
    workers = [Worker(f"leader{i + 1:03d}") for i in range(leaders)]
    summary_latency: list[float] = []
    supervisor_errors: list[str] = []
    threads = [threading.Thread(target=_leader, args=(url, i, leaders, stop, w, seed_), daemon=True)
               for i, w in enumerate(workers)]
    threads.append(threading.Thread(target=_supervisor, args=(url, stop, summary_latency, supervisor_errors),
                                    daemon=True))
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    deadline = time.monotonic() + grace
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - started
    hung = sum(t.is_alive() for t in threads)
    integrity = check_integrity(engine, workers)
    if hung:
        integrity["problems"].append(f"{hung} threads still running {grace:.0f} s after the stop (deadlock?)")
    if supervisor_errors:
        integrity["problems"].extend(supervisor_errors)
    engine.dispose()
    files = [x for w in workers for x in w.latencies["file"]]
    moves = [x for w in workers for x in w.latencies["transition"]]
    committed = sum(len(w.committed) for w in workers)
    conflicts = sum(w.conflicts for w in workers)
    return {
        "backend": backend, "leaders": leaders, "seconds": round(elapsed, 1),
        "cases_filed": len(files), "transitions_committed": committed - len(files),
        "version_conflicts": conflicts, "writes_per_s": round(committed / elapsed, 1),
        "file_ms": {"p50": _pct(files, 50), "p95": _pct(files, 95)},
        "transition_ms": {"p50": _pct(moves, 50), "p95": _pct(moves, 95)},
        "summary_reads": len(summary_latency),
        "summary_ms": {"p50": _pct(summary_latency, 50), "p95": _pct(summary_latency, 95)},
        **integrity,
    }


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("LINPU_TEST_DATABASE_URL", "sqlite"),
                        help="PostgreSQL URL (loopback) or 'sqlite' for a temporary file")
    parser.add_argument("--leaders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with database(args.url) as url:
        result = run_load(url, leaders=args.leaders, seconds=args.seconds, seed_=args.seed)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if args.markdown:
        print(f"| {result['backend']} | {result['leaders']} | {result['seconds']} | {result['cases_filed']} | "
              f"{result['transitions_committed']} | {result['version_conflicts']} | {result['writes_per_s']} | "
              f"{result['file_ms']['p50']} / {result['file_ms']['p95']} | "
              f"{result['transition_ms']['p50']} / {result['transition_ms']['p95']} | "
              f"{result['summary_ms']['p50']} / {result['summary_ms']['p95']} ({result['summary_reads']}) | "
              f"{'none' if not result['problems'] else len(result['problems'])} |")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
