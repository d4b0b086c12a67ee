"""Benchmark: ingest 100,000 shops, then 100,000 and 1,000,000 case rows, from CSV.

Not a timed test: run it by hand and copy its Markdown into BENCHMARKS.md.

    .venv/bin/python bench/ingest_bench.py                       # SQLite file in a temp folder
    .venv/bin/python bench/ingest_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Steps, each timed (wall clock, through the same functions as ``linpu ingest``):

1. a synthetic city of ``--shops`` shops (``bench/synthetic_city.py``) written
   as a CSV register, the city boundary stored and square 150 m grids saved
   (set-up, not timed);
2. ``ingest_shops`` of the register into the empty shop table (all opened,
   validated, placed in grids), then the same file again (nothing changes),
   then a register with 1 % renamed, 1 % gone and 1 % new shops;
3. for each size of ``--sizes`` (default 100,000 and 1,000,000 case rows):

   a. the raw limit of the layer underneath: the same rows, already in
      stored form (placed, numbered, with deadlines; untimed), loaded into
      ``cases`` and ``case_history`` by ``COPY`` (PostgreSQL) or one prepared
      ``executemany`` per table (SQLite) and committed: only the load is
      timed; the tables are then emptied again;
   b. ``linpu ingest cases`` of the file, run as the real command in a child
      process (``python -m pipelines ingest cases FILE --json``; its peak RSS
      is the child's, from ``wait4``), streamed through validation,
      placement and loading; the stored cases, history rows and grid totals
      are counted after;
   c. the dashboard's in-memory case figures (``governance.facts``) catching
      up: a copy read before the ingest is brought up to date
      (``CaseFacts.updated``) and asked for the district's figures once;
   d. the cases are removed again before the next size.

   The table ends with ours / raw per size and the peak RSS of the largest
   size over the smallest's.
4. for comparison, ``--workflow-cases`` further rows filed one by one through
   ``governance.workflow.file_case`` (in-process, the path before the batch).

With ``--checks N``, before step 3: ``linpu ingest checks`` of N electricity
checks (one per shop, one in three failing, so raising a case) through
``governance.filing_checks.record_checks``; the checks and their cases are then
removed so that the case steps start from none.  ``--sizes`` empty stops after that.

On PostgreSQL a fresh schema is created and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_city import make_city  # noqa: E402
from governance.bulk_load import load, stored_points, stored_times  # noqa: E402
from governance.catalog import Trade  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.facts import CaseFacts  # noqa: E402
from governance.figures import refresh_grid_stats  # noqa: E402
from governance.filing import CASE_COLUMNS, HISTORY_COLUMNS  # noqa: E402
from governance.grids import place_in_current_grids  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import Case, CaseHistory, DistrictFeature, Grid, GridGeneration, GridStats  # noqa: E402
from pipelines.ingest import ingest_shops  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRID_M = 150.0
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


@contextmanager
def database(url: str | None):
    """A fresh migrated database: a temp SQLite file, or a new schema on PostgreSQL."""
    if not url:
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.sqlite3")
            upgrade(engine)
            yield engine, "SQLite"
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    parsed = make_url(url)
    scoped = parsed.update_query_dict({"options": f"-csearch_path={schema},public"})
    engine = make_engine(scoped.render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine, "PostGIS"
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def register(n: int, seed: int) -> tuple[pd.DataFrame, shapely.Geometry]:
    city = make_city(n, seed=seed)
    rng = np.random.default_rng(seed)
    trades = np.array([t.value for t in Trade])
    frame = pd.DataFrame({
        "shop_id": city.shops["shop_id"].to_numpy(),
        "name": [f"商铺{i:06d}" for i in range(n)],
        "trade": trades[rng.integers(0, len(trades), n)],
        "street": "",
        "lon": np.round(city.shops.geometry.x.to_numpy(), 7),
        "lat": np.round(city.shops.geometry.y.to_numpy(), 7),
    })
    return frame, city.boundary.geometry.iloc[0]


def seed_grids(engine, boundary: shapely.Geometry) -> int:
    """Square grids covering the boundary (set-up for placement, not a real gridding)."""
    import geopandas as gpd

    metric = gpd.GeoSeries([boundary], crs=4326).to_crs(4549).iloc[0]
    minx, miny, maxx, maxy = metric.bounds
    boxes = [shapely.box(x, y, x + GRID_M, y + GRID_M)
             for x in np.arange(minx, maxx, GRID_M) for y in np.arange(miny, maxy, GRID_M)]
    cells = gpd.GeoSeries(boxes, crs=4549).intersection(metric)
    cells = cells[~cells.is_empty].to_crs(4326)
    with transaction(engine) as session:
        session.add(DistrictFeature(kind="boundary", name="synthetic city", geometry=boundary))
        generation = GridGeneration(method="bench-squares", params={}, quality={}, is_current=True,
                                    created_at=NOW)
        session.add(generation)
        session.flush()
        session.execute(Grid.__table__.insert(), [
            {"generation_id": generation.id, "code": f"B{i:05d}", "name": "", "n_shops": 0,
             "is_building": False, "geometry": shapely.set_srid(g, 4326)}
            for i, g in enumerate(cells)
        ])
        refresh_grid_stats(session)  # a stored figures row per grid, so filing's totals are exercised
    return len(cells)


def case_rows(shops: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    pick = rng.integers(0, len(shops), n)
    jitter = rng.normal(0, 0.00005, (n, 2))
    categories = np.array(["fire_exit", "sanitation", "road_occupation", "fumes", "noise", "electricity", "gas"])
    start = NOW - timedelta(days=365)
    seconds = np.sort(rng.integers(0, 365 * 86400 - 3600, n))
    created = pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame({
        "case_id": [f"F{i:07d}" for i in range(n)],
        "category": categories[rng.integers(0, len(categories), n)],
        "severity": np.array(["low", "medium", "high"])[rng.integers(0, 3, n)],
        "title": "巡查发现",
        "lon": np.round(shops["lon"].to_numpy()[pick] + jitter[:, 0], 7),
        "lat": np.round(shops["lat"].to_numpy()[pick] + jitter[:, 1], 7),
        # Distinct seconds per row so that no two findings are the same (category, time, place).
        "created_at": (created + pd.to_timedelta(np.arange(n) % 7, unit="ms")).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    })


def timed(label: str, fn, results: list, **extra):
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    results.append({"step": label, "seconds": round(seconds, 2), "peak_rss_mb": round(rss_mb()), **extra})
    print(f"  {label}: {seconds:.1f} s", file=sys.stderr)
    return value


def linpu(label: str, url: str, args: list[str], results: list, *, rows: int) -> dict:
    """Run ``linpu ARGS --json`` as a child process; time it and take its peak RSS."""
    env = {**os.environ, "LINPU_DATABASE_URL": url}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        profile = os.environ.get("LINPU_BENCH_PROFILE_DIR")  # where each child's cProfile goes
        runner = ["-m", "cProfile", "-o", str(Path(profile) / f"{args[1]}-{rows}.prof")] if profile else []
        process = subprocess.Popen([sys.executable, *runner, "-m", "pipelines", *args], cwd=ROOT, env=env,
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"{label}: exit {process.returncode}\n{stderr.decode()[-3000:]}")
    child_rss = usage.ru_maxrss / 1024  # this child's own peak
    results.append({"step": label, "seconds": round(seconds, 1), "peak_rss_mb": round(child_rss),
                    "note": f"{rows / seconds:,.0f} rows/s"})
    print(f"  {label}: {seconds:.1f} s, {rows / seconds:,.0f} rows/s, child peak RSS {child_rss:,.0f} MB",
          file=sys.stderr)
    return json.loads(stdout)


def _one_by_one(engine, path: Path):
    """The path before the batch: every row through ``governance.workflow.file_case``."""
    from governance.permissions import system_viewer
    from governance.workflow import file_case
    from pipelines.ingest import load_table

    frame = load_table(path).frame
    with transaction(engine) as session:
        viewer = system_viewer()
        for row in frame.itertuples():
            file_case(session, viewer, kind="patrol", category=row.category, severity=row.severity,
                      title=row.title, lon=float(row.lon), lat=float(row.lat),
                      now=datetime.fromisoformat(row.created_at))


def check_rows(shops: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Electricity checks of ``n`` shops (each checked once); every third one fails the RCD item."""
    rng = np.random.default_rng(seed + 2)
    pick = rng.choice(len(shops), size=min(n, len(shops)), replace=False)
    performed = pd.Timestamp(NOW - timedelta(days=30)) + pd.to_timedelta(np.arange(len(pick)), unit="s")
    failed = np.arange(len(pick)) % 3 == 0
    return pd.DataFrame({
        "check_id": [f"K{i:07d}" for i in range(len(pick))],
        "shop_id": shops["shop_id"].to_numpy()[pick], "category": "electricity",
        "performed_at": performed.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "result": np.where(failed, "fail", "pass"), "failed_items": np.where(failed, "elec.rcd", ""),
    })


def raw_rows(engine, cases: pd.DataFrame, start_id: int, chunk: int = 50_000):
    """The rows of ``cases`` as ``cases`` and ``case_history`` store them, a chunk at a time
    (placed, numbered, due a day later): the input of the raw load, prepared untimed."""
    postgres = engine.dialect.name == "postgresql"
    with transaction(engine) as session:
        for begin in range(0, len(cases), chunk):
            part = cases.iloc[begin : begin + chunk]
            n = len(part)
            lon, lat = part["lon"].to_numpy(dtype=float), part["lat"].to_numpy(dtype=float)
            grids = place_in_current_grids(session, lon, lat, snap_m=50.0).grid_ids.tolist()
            created = pd.to_datetime(part["created_at"], utc=True)
            at = stored_times(created, postgres).tolist()
            due = stored_times(created + pd.Timedelta(days=1), postgres).tolist()
            ids = list(range(start_id + begin, start_id + begin + n))
            numbers = [f"R{i:015d}" for i in ids]
            cases_part = list(zip(
                ids, numbers, ["patrol"] * n, part["category"].tolist(), part["severity"].tolist(),
                part["title"].tolist(), [""] * n, stored_points(lon, lat, postgres).tolist(), grids, [None] * n,
                [None] * n, ["warning"] * n, at, due, [None] * n, [None] * n, [0] * n, [1] * n, [None] * n,
                strict=True))
            history = list(zip(ids, [1] * n, at, [None] * n, ["raise"] * n, [None] * n, ["warning"] * n,
                               [""] * n, ['{"actor": "system"}'] * n, strict=True))
            yield cases_part, history


def raw_load(engine, cases: pd.DataFrame) -> float:
    """Seconds to load the rows of ``cases`` (and their history rows) by COPY or executemany and
    commit, without any validation; the preparation of the rows is not counted."""
    with transaction(engine) as session:
        start_id = (session.scalar(select(func.max(Case.id))) or 0) + 1
    prepared = list(raw_rows(engine, cases, start_id)) if len(cases) <= 100_000 else None
    seconds = 0.0
    with transaction(engine) as session:
        for cases_part, history in prepared or raw_rows(engine, cases, start_id):
            started = time.perf_counter()
            load(session, Case.__table__, CASE_COLUMNS, cases_part)
            load(session, CaseHistory.__table__, HISTORY_COLUMNS, history)
            seconds += time.perf_counter() - started
        started = time.perf_counter()
    seconds += time.perf_counter() - started  # the commit
    return seconds


def empty_cases(engine, backend: str) -> None:
    """No case, history row, check or case notice left; the grid totals recounted."""
    with transaction(engine) as session:
        if backend == "PostGIS":
            session.execute(text("TRUNCATE hazard_checks, cases CASCADE"))
        else:
            session.execute(text("DELETE FROM hazard_checks"))
            session.execute(CaseHistory.__table__.delete())
            session.execute(Case.__table__.delete())
        session.execute(text("DELETE FROM notifications"))
        refresh_grid_stats(session)


def case_size(engine, backend: str, shops: pd.DataFrame, n: int, folder: Path, seed: int, results: list) -> dict:
    """Raw load, `linpu ingest cases` and the facts catching up, for ``n`` rows."""
    cases = case_rows(shops, n, seed)
    path = folder / f"cases-{n}.csv"
    cases.to_csv(path, index=False)
    raw = raw_load(engine, cases)
    empty_cases(engine, backend)
    del cases
    results.append({"step": f"raw load of the same {n:,} rows (no validation)", "seconds": round(raw, 1),
                    "peak_rss_mb": "", "note": f"{n / raw:,.0f} rows/s"})
    print(f"  raw {n:,}: {raw:.1f} s", file=sys.stderr)
    with transaction(engine) as session:
        facts = CaseFacts.read(session)
    url_text = engine.url.render_as_string(hide_password=False)
    report = linpu(f"`linpu ingest cases`, {n:,} rows", url_text, ["ingest", "cases", str(path), "--json"],
                   results, rows=n)
    assert report["written"] and report["counts"]["filed"] == n, report
    ours = results[-1]
    ours["note"] += f"; ours / raw {ours['seconds'] / raw:.2f}"
    started = time.perf_counter()
    with transaction(engine) as session:
        facts = facts.updated(session)
    figures = facts.closed_figures()
    catch_up = time.perf_counter() - started
    with transaction(engine) as session:
        stored = (session.scalar(select(func.count()).select_from(Case)),
                  session.scalar(select(func.count()).select_from(CaseHistory)),
                  session.scalar(select(func.sum(GridStats.total))))
    assert stored == (n, n, n), stored
    results.append({"step": f"in-memory case figures catch up after {n:,} rows", "seconds": round(catch_up, 1),
                    "peak_rss_mb": "", "note": f"{len(figures):,} grids' figures; facts.updated + closed_figures"})
    path.unlink()
    return {"n": n, "seconds": ours["seconds"], "raw": raw, "peak": ours["peak_rss_mb"]}


def run(url: str | None, n_shops: int, sizes: list[int], workflow_cases: int, seed: int,
        n_checks: int = 0) -> tuple[str, list[dict]]:
    # Long: the benchmark's steps in order, each appending its line to the table.
    results: list[dict] = []
    shops, boundary = register(n_shops, seed)
    with tempfile.TemporaryDirectory() as folder, database(url) as (engine, backend):
        folder = Path(folder)
        n_grids = seed_grids(engine, boundary)
        path = folder / "shops.csv"
        shops.to_csv(path, index=False)
        print(f"{backend}: {n_shops} shops, {n_grids} grids", file=sys.stderr)
        report = timed(f"ingest {n_shops:,} shops (all new)", lambda: ingest_shops(engine, path, now=NOW), results)
        assert report.counts["opened"] == n_shops and not report.problems, report.summary()
        report = timed(f"re-ingest the same {n_shops:,} shops", lambda: ingest_shops(engine, path, now=NOW), results)
        assert report.counts["unchanged"] == n_shops, report.counts
        changed = shops.copy()
        k = n_shops // 100
        changed.loc[: k - 1, "name"] = changed.loc[: k - 1, "name"] + "(新)"
        changed = changed.iloc[: n_shops - k]
        extra = shops.iloc[-k:].assign(shop_id=[f"N{i:07d}" for i in range(k)],
                                       name=[f"新店{i}" for i in range(k)])
        changed_path = folder / "changed.csv"
        pd.concat([changed, extra]).to_csv(changed_path, index=False)
        report = timed("ingest a changed register (1 % each renamed, gone, new)",
                       lambda: ingest_shops(engine, changed_path, now=NOW), results)
        print("   ", report.summary(), file=sys.stderr)

        url_text = engine.url.render_as_string(hide_password=False)
        if n_checks:
            checks = check_rows(shops.iloc[: n_shops - k], n_checks, seed)
            checks_path = folder / "checks.csv"
            checks.to_csv(checks_path, index=False)
            report = linpu(f"record {len(checks):,} hazard checks (`linpu ingest checks`, batch)", url_text,
                           ["ingest", "checks", str(checks_path), "--json"], results, rows=len(checks))
            assert report["written"] and report["counts"]["recorded"] == len(checks), report
            results[-1]["note"] += f"; {report['counts']['cases_raised']:,} failed checks raised cases"
            empty_cases(engine, backend)
        sized = []
        for n in sizes:
            sized.append(case_size(engine, backend, shops.iloc[: n_shops - k], n, folder, seed, results))
            if n != sizes[-1]:
                empty_cases(engine, backend)
        if len(sized) > 1:
            small, large = sized[0], sized[-1]
            results.append({"step": f"peak RSS at {large['n']:,} rows over the peak at {small['n']:,}",
                            "seconds": "", "peak_rss_mb": "",
                            "note": f"{large['peak'] / small['peak']:.2f} ({large['peak']:,} / {small['peak']:,} MB)"})
        if workflow_cases and sizes:
            extra_rows = case_rows(shops.iloc[: n_shops - k], sizes[-1] + workflow_cases, seed).tail(workflow_cases)
            part_path = folder / "cases_part.csv"
            extra_rows.to_csv(part_path, index=False)
            timed(f"file {workflow_cases:,} more rows one by one (`file_case`, for comparison)",
                  lambda: _one_by_one(engine, part_path), results)
            per_row = results[-1]["seconds"] / workflow_cases
            results[-1]["note"] = f"{per_row * 1000:.1f} ms per case"
    return backend, results


def markdown(backend: str, results: list[dict]) -> str:
    lines = [f"| {backend} | step | seconds | peak RSS MB | note |", "|---|---|---:|---:|---|"]
    for r in results:
        lines.append(f"| {backend} | {r['step']} | {r['seconds']} | {r['peak_rss_mb']} | {r.get('note', '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=100_000)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="Case files to ingest, in rows, comma-separated (empty: none).")
    parser.add_argument("--workflow-cases", type=int, default=1_000,
                        help="Further rows filed one by one through file_case, for comparison (0: none).")
    parser.add_argument("--checks", type=int, default=0,
                        help="Hazard checks to record before the cases (each of as many shops, one in three failing); "
                        "they and their cases are removed again before the case steps.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default a temp SQLite file.")
    # LINPU_BENCH_PROFILE_DIR=DIR runs each `linpu ingest` child under cProfile into DIR/<kind>-<rows>.prof
    # (the times are then the profiler's, not the command's).
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", file=sys.stderr)
    sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
    backend, results = run(args.database_url, args.shops, sizes, args.workflow_cases, args.seed, args.checks)
    print(f"machine: {machine()}")
    print(markdown(backend, results))


if __name__ == "__main__":
    main()
