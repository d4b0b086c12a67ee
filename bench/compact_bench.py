"""How long checking road-occupation findings against the stall zones takes (issue 24).

`governance.compact.occupation_checks` is what a file of findings (`linpu
ingest cases`) runs once for all its road-occupation rows: a zones x points
covers matrix, then the zones' opening hours for the points inside.
Prints Markdown rows for BENCHMARKS.md.

    .venv/bin/python bench/compact_bench.py --points 100000 --zones 50
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import shapely

from governance.compact import occupation_checks
from governance.db import make_engine, transaction
from governance.district import replace_layer
from governance.migrate import upgrade

HOURS = ("Mo-Su 18:00-23:30", "Mo-Su 06:00-09:00", "Sa,Su 10:00-22:00", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--zones", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(24)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.sqlite3")
        upgrade(engine)
        west, south = 118.89, 25.11
        corners = rng.uniform(0, 0.02, size=(args.zones, 2))
        zones = gpd.GeoDataFrame(
            {"name": [f"zone {i}" for i in range(args.zones)],
             "hours": [HOURS[i % len(HOURS)] for i in range(args.zones)]},
            geometry=[shapely.box(west + x, south + y, west + x + 0.001, south + y + 0.0004) for x, y in corners],
            crs=4326)
        with transaction(engine) as session:
            replace_layer(session, "stalls", zones)
        lon = west + rng.uniform(0, 0.021, args.points)
        lat = south + rng.uniform(0, 0.021, args.points)
        start = datetime(2026, 7, 1, tzinfo=UTC)
        at = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 7 * 24 * 60, args.points)]
        with transaction(engine) as session:
            began = time.perf_counter()
            checks = occupation_checks(session, lon, lat, at)
            seconds = time.perf_counter() - began
        engine.dispose()
    inside = sum(c != "outside_zone" for c in checks)
    load = os.getloadavg()[0]
    print("| findings | stall zones | inside a zone | seconds | per 1,000 findings | load |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.points:,} | {args.zones} | {inside:,} | {seconds:.2f} | {1000 * seconds / args.points:.3f} s "
          f"| {load:.1f} |")


if __name__ == "__main__":
    main()
