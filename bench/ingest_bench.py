"""Benchmark: ingest 100,000 shops and 1,000,000 case rows from CSV.

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
3. ``ingest_cases`` of ``--cases`` rows: the whole file validated
   (``dry_run``), and ``--file-cases`` of its rows filed through
   ``governance.workflow.file_case`` one by one (the rate is what a full
   file would take; the report says which figure was measured).

On PostgreSQL a fresh schema is created and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
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
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_city import make_city  # noqa: E402
from governance.catalog import Trade  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import DistrictFeature, Grid, GridGeneration  # noqa: E402
from pipelines.ingest import ingest_shops  # noqa: E402
from pipelines.ingest_field import ingest_cases  # noqa: E402

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


def run(url: str | None, n_shops: int, n_cases: int, file_cases: int, seed: int) -> tuple[str, list[dict]]:
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

        cases = case_rows(shops.iloc[: n_shops - k], n_cases, seed)
        cases_path = folder / "cases.csv"
        cases.to_csv(cases_path, index=False)
        report = timed(f"validate {n_cases:,} case rows (dry run)",
                       lambda: ingest_cases(engine, cases_path, dry_run=True, now=NOW), results)
        assert not report.problems, report.problem_lines(5)
        part_path = folder / "cases_part.csv"
        cases.head(file_cases).to_csv(part_path, index=False)
        report = timed(f"file {file_cases:,} case rows through the workflow",
                       lambda: ingest_cases(engine, part_path, now=NOW), results)
        assert report.counts["filed"] == file_cases
        per_row = results[-1]["seconds"] / file_cases
        results[-1]["note"] = (f"{per_row * 1000:.2f} ms per case; {n_cases:,} rows would take about "
                               f"{per_row * n_cases / 60:.0f} min (extrapolated, not measured)")
    return backend, results


def markdown(backend: str, results: list[dict]) -> str:
    lines = [f"| {backend} | step | seconds | peak RSS MB | note |", "|---|---|---:|---:|---|"]
    for r in results:
        lines.append(f"| {backend} | {r['step']} | {r['seconds']} | {r['peak_rss_mb']} | {r.get('note', '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--file-cases", type=int, default=20_000,
                        help="How many of the case rows to file through the workflow (timed).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default a temp SQLite file.")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", file=sys.stderr)
    backend, results = run(args.database_url, args.shops, args.cases, args.file_cases, args.seed)
    print(f"machine: {machine()}")
    print(markdown(backend, results))


if __name__ == "__main__":
    main()
