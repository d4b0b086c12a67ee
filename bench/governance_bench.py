"""Benchmark of the governance core (issue 4): not a test, run by hand.

Targets on a 2-core machine, on SQLite and on PostGIS:

- ``grid_loop_summary`` for a district-wide viewer over 10,000 grids and
  1,000,000 cases: under 300 ms;
- filing one case with placement (``file_case`` + commit, its own
  transaction): p95 under 20 ms.

Usage::

    .venv/bin/python bench/governance_bench.py --backend sqlite
    .venv/bin/python bench/governance_bench.py --backend postgis \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/test

The data is synthetic: a 100 x 100 lattice of 50 m grids near Quanzhou, ten
shops per grid, cases over the past year (about 5 % open), ratings on the
service requests and two hazard checks per shop.  It is written in bulk
(executemany on SQLite, COPY on PostgreSQL) straight into the tables, then
``refresh_grid_stats`` computes the stored figures as ``linpu`` would.  The
PostGIS run uses its own schema and drops it afterwards.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from governance.check_due import refresh_check_due  # noqa: E402
from governance.db import make_engine, session_factory, transaction  # noqa: E402
from governance.figures import refresh_grid_stats  # noqa: E402
from governance.loop_summary import grid_loop_summary  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.permissions import system_viewer  # noqa: E402
from governance.workflow import file_case  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ORIGIN = (118.80, 25.00)
CELL = 0.0005  # degrees, about 50 m
CATEGORIES = ["electricity", "gas", "construction", "amusement_ride", "fire_exit", "sanitation",
              "road_occupation", "fumes", "noise", "other"]
SEVERITIES = ["low", "medium", "high", "urgent"]
TRADES = ["catering", "snacks", "tea", "retail", "clothing", "crafts", "convenience", "pharmacy", "lodging",
          "entertainment", "amusement", "services"]


def _ts(values: np.ndarray) -> list:
    """Aware datetimes from epoch seconds (NaN -> None)."""
    return [None if np.isnan(v) else datetime.fromtimestamp(float(v), UTC) for v in values]


def generate(n_grids: int, n_cases: int, shops_per_grid: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_grids)))
    gx, gy = np.arange(n_grids) % side, np.arange(n_grids) // side
    x0, y0 = ORIGIN[0] + gx * CELL, ORIGIN[1] + gy * CELL
    grids = pd.DataFrame({
        "id": np.arange(1, n_grids + 1), "code": [f"B{i:05d}" for i in range(1, n_grids + 1)],
        "n_shops": shops_per_grid,
        "geometry": shapely.to_wkb(shapely.box(x0, y0, x0 + CELL, y0 + CELL), include_srid=False),
    })
    n_shops = n_grids * shops_per_grid
    shop_grid = np.repeat(np.arange(n_grids), shops_per_grid)
    sx = x0[shop_grid] + rng.uniform(0.05, 0.95, n_shops) * CELL
    sy = y0[shop_grid] + rng.uniform(0.05, 0.95, n_shops) * CELL
    shops = pd.DataFrame({
        "id": np.arange(1, n_shops + 1), "shop_code": [f"BS{i:07d}" for i in range(1, n_shops + 1)],
        "trade": rng.choice(TRADES, n_shops), "grid_id": shop_grid + 1, "x": sx, "y": sy,
    })

    t_now = NOW.timestamp()
    shop_of_case = rng.integers(0, n_shops, n_cases)
    created = t_now - rng.uniform(0, 365 * 86400, n_cases)
    limit = rng.choice([4, 24, 72, 168], n_cases) * 3600.0
    is_open = rng.random(n_cases) < 0.05
    open_state = rng.choice(["warning", "in_progress", "follow_up"], n_cases)
    resolved = created + rng.exponential(limit * 0.8)
    closed = resolved + rng.exponential(86400.0, n_cases)
    resolved = np.where(resolved > t_now, t_now - 60, resolved)
    closed = np.where(closed > t_now, t_now - 30, closed)
    state = np.where(is_open, open_state, "closed")
    outcome = np.where(is_open, None, rng.choice(["fixed"] * 17 + ["no_action_needed", "duplicate",
                                                                    "not_responsible"], n_cases))
    has_resolve = (state == "follow_up") | ((state == "closed") & (outcome == "fixed"))
    kind = rng.choice(["patrol"] * 7 + ["hazard_check"] * 2 + ["service_request"], n_cases)
    cases = pd.DataFrame({
        "id": np.arange(1, n_cases + 1),
        "case_no": [f"BC{i:08d}" for i in range(1, n_cases + 1)],
        "kind": kind, "category": rng.choice(CATEGORIES, n_cases), "severity": rng.choice(SEVERITIES, n_cases),
        "title": "bench", "description": "",
        "x": shops["x"].to_numpy()[shop_of_case], "y": shops["y"].to_numpy()[shop_of_case],
        "grid_id": shops["grid_id"].to_numpy()[shop_of_case],
        "shop_id": shop_of_case + 1,
        "state": state, "outcome": outcome,
        "created_at": _ts(created), "due_at": _ts(created + limit),
        "follow_up_due_at": _ts(np.where(has_resolve, resolved + 3 * 86400, np.nan)),
        "closed_at": _ts(np.where(state == "closed", closed, np.nan)),
        "resolved_at": _ts(np.where(has_resolve, resolved, np.nan)),
        "reopen_count": (rng.random(n_cases) < 0.03).astype(int),
        "version": np.where(state == "closed", 4, 2),
    })
    rated = np.flatnonzero((kind == "service_request") & (state == "closed"))
    ratings = pd.DataFrame({
        "case_id": rated + 1, "rating": rng.integers(1, 6, len(rated)), "comment": "",
        "rated_at": [NOW] * len(rated), "rated_by": "",
    })
    # Two checks per shop, electricity for all, within the past 120 days: some overdue, some due soon.
    check_shops = np.repeat(np.arange(n_shops), 2)
    performed = t_now - rng.uniform(0, 120 * 86400, len(check_shops))
    passed = rng.random(len(check_shops)) < 0.9
    checks = pd.DataFrame({
        "check_no": [f"BK{i:08d}" for i in range(1, len(check_shops) + 1)], "shop_id": check_shops + 1,
        "category": "electricity",
        "answers": np.where(passed, json.dumps({"elec.rcd": True}), json.dumps({"elec.rcd": False})),
        "passed": passed, "performed_at": _ts(performed), "note": "",
    })
    return {"grids": grids, "shops": shops, "cases": cases, "ratings": ratings, "checks": checks}


def _point_wkb(x, y) -> list[bytes]:
    return list(shapely.to_wkb(shapely.points(x, y), include_srid=False))


def load(engine, data: dict[str, pd.DataFrame]) -> None:
    pg = engine.dialect.name == "postgresql"
    g, s, c, r, k = (data[n] for n in ("grids", "shops", "cases", "ratings", "checks"))
    opened = NOW - timedelta(days=400)
    tables = {
        "grid_generations": (["id", "created_at", "method", "params", "quality", "is_current", "note"],
                             [(1, NOW, "bench", "{}", "{}", True, "")]),
        "grids": (["id", "generation_id", "code", "name", "n_shops", "is_building", "geometry"],
                  list(zip(g["id"].tolist(), [1] * len(g), g["code"], [""] * len(g), g["n_shops"].tolist(),
                           [False] * len(g), g["geometry"], strict=True))),
        "shops": (["id", "shop_code", "name", "trade", "street", "party_member_operator", "geometry", "grid_id",
                   "opened_at", "public_id"],
                  list(zip(s["id"].tolist(), s["shop_code"], s["shop_code"], s["trade"], [""] * len(s),
                           [False] * len(s), _point_wkb(s["x"], s["y"]), s["grid_id"].tolist(),
                           [opened] * len(s), [f"bench{i:012d}" for i in s["id"].tolist()], strict=True))),
        "cases": (["id", "case_no", "kind", "category", "severity", "title", "description", "geometry", "grid_id",
                   "shop_id", "state", "outcome", "created_at", "due_at", "follow_up_due_at", "closed_at",
                   "resolved_at", "reopen_count", "version"],
                  list(zip(c["id"].tolist(), c["case_no"], c["kind"], c["category"], c["severity"], c["title"],
                           c["description"], _point_wkb(c["x"], c["y"]), c["grid_id"].tolist(),
                           c["shop_id"].tolist(), c["state"], c["outcome"], c["created_at"], c["due_at"],
                           c["follow_up_due_at"], c["closed_at"], c["resolved_at"], c["reopen_count"].tolist(),
                           c["version"].tolist(), strict=True))),
        "ratings": (["case_id", "rating", "comment", "rated_at", "rated_by"],
                    list(zip(r["case_id"].tolist(), r["rating"].tolist(), r["comment"], r["rated_at"],
                             r["rated_by"], strict=True))),
        "hazard_checks": (["check_no", "shop_id", "category", "answers", "passed", "performed_at", "note"],
                          list(zip(k["check_no"], k["shop_id"].tolist(), k["category"], k["answers"],
                                   k["passed"].tolist(), k["performed_at"], k["note"], strict=True))),
    }
    geometry_tables = {"grids", "shops", "cases"}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, (columns, rows) in tables.items():
            if pg:
                geo_index = columns.index("geometry") if table in geometry_tables else None
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        row = tuple(_pg_value(v) for v in row)
                        if geo_index is not None:
                            row = (*row[:geo_index], _ewkb(row[geo_index]).hex(), *row[geo_index + 1:])
                        copy.write_row(row)
            else:
                # The text format SQLAlchemy's SQLite DateTime writes, so the ORM reads these back.
                converted = [tuple(_sqlite_value(v) for v in row) for row in rows]
                if table in geometry_tables:
                    i = columns.index("geometry")
                    converted = [(*row[:i], _ewkb(row[i]), *row[i + 1:]) for row in converted]
                placeholders = ", ".join("?" for _ in columns)
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", converted)
        if pg:
            for table in ("grids", "shops", "cases", "ratings", "hazard_checks", "grid_generations"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _pg_value(value):
    return None if _missing(value) else value


def _sqlite_value(value):
    if _missing(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _ewkb(wkb: bytes) -> bytes:
    geometry = shapely.from_wkb(wkb)
    return shapely.to_wkb(shapely.set_srid(geometry, 4326), include_srid=True)


def vacuum_analyze(engine) -> None:
    """What autovacuum does to a live database: statistics, and on PostgreSQL the
    visibility map that lets the open-case index be read without the table."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def timed(fn, repeat: int) -> list[float]:
    """Wall times in ms; the process CPU times go to ``timed.cpu`` (other load on
    a shared machine stretches wall time, much less this process's CPU time)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    timed.cpu = cpu
    return times


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgis"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL URL for --backend postgis (a scratch schema is used)")
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--shops-per-grid", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--filings", type=int, default=200)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--sqlite-path", type=Path, help="keep the SQLite database here; reused if already loaded")
    parser.add_argument("--pg-schema", help="keep the PostGIS data in this schema; reused if already loaded")
    args = parser.parse_args()

    schema = None
    if args.backend == "postgis":
        if not args.url:
            parser.error("--backend postgis needs --url")
        schema = args.pg_schema or f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.url)
        with admin.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        url = make_url(args.url).update_query_dict({"options": f"-csearch_path={schema},public"})
        engine = make_engine(url.render_as_string(hide_password=False))
    else:
        path = args.sqlite_path or Path(tempfile.mkdtemp(prefix="linpu-bench-")) / "bench.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as connection:
            loaded = connection.execute(text("SELECT count(*) FROM grids")).scalar() == args.grids
        if loaded:
            print(f"reusing the loaded database {engine.url}", flush=True)
            with engine.connect() as connection:
                stale = connection.execute(text("SELECT count(*) FROM check_due")).scalar() == 0
            if stale:  # loaded before the check_due revision
                with transaction(engine) as session:
                    refresh_check_due(session)
                vacuum_analyze(engine)
            run(engine, args)
            return
        t = time.perf_counter()
        data = generate(args.grids, args.cases, args.shops_per_grid, args.seed)
        print(f"generated {args.grids} grids, {len(data['shops'])} shops, {args.cases} cases, "
              f"{len(data['checks'])} checks in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        load(engine, data)
        print(f"loaded in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        with transaction(engine) as session:
            refresh_grid_stats(session)
            refresh_check_due(session)
        vacuum_analyze(engine)
        print(f"grid figures computed and VACUUM ANALYZE in {time.perf_counter() - t:.1f} s", flush=True)
        run(engine, args)
    finally:
        engine.dispose()
        if schema and not args.pg_schema:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def run(engine, args) -> None:
    viewer = system_viewer()
    with session_factory(engine)() as session:
        def summary():
            frame = grid_loop_summary(session, viewer, now=NOW)
            assert len(frame) == args.grids
            session.rollback()  # a fresh snapshot per call, as a page load would have

        summary()  # warm-up: connection, statement cache
        times = timed(summary, args.repeat)
    print(f"grid_loop_summary over {args.grids} grids / {args.cases} cases: "
          f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms "
          f"({args.repeat} runs); this process's CPU: median {statistics.median(timed.cpu):.0f} ms; "
          f"load average {load_average()}", flush=True)

    rng = np.random.default_rng(args.seed + 1)
    side = int(np.ceil(np.sqrt(args.grids)))
    with transaction(engine) as session:
        user_id = session.execute(text(
            "INSERT INTO users (username, display_name, role, is_active, failed_logins, created_at) "
            f"VALUES ('bench-{uuid.uuid4().hex[:8]}', 'bench', 'admin', true, 0, CURRENT_TIMESTAMP) RETURNING id"
        )).scalar()
    filer = viewer.__class__(user_id=user_id, username="bench", role=viewer.role)

    def file_one():
        cell = int(rng.integers(0, args.grids))
        lon = ORIGIN[0] + (cell % side + rng.uniform(0.1, 0.9)) * CELL
        lat = ORIGIN[1] + (cell // side + rng.uniform(0.1, 0.9)) * CELL
        with transaction(engine) as session:
            file_case(session, filer, kind="patrol", category="noise", severity="low", title="bench",
                      lon=lon, lat=lat, now=NOW)

    file_one()  # warm-up: loads the current grids into the placement cache once per process
    filing = timed(file_one, args.filings)
    p95 = float(np.percentile(filing, 95))
    print(f"file_case with placement (own transaction, commit): p50 {statistics.median(filing):.1f} ms, "
          f"p95 {p95:.1f} ms, max {max(filing):.1f} ms ({args.filings} filings); this process's CPU: "
          f"p95 {float(np.percentile(timed.cpu, 95)):.1f} ms; load average {load_average()}", flush=True)
    print(f"machine: {machine()}; backend: {engine.dialect.name} {engine.dialect.server_version_info or ''}")


if __name__ == "__main__":
    io.DEFAULT_BUFFER_SIZE = 1 << 16
    main()
