"""Benchmark: export 100,000 features in each format.

Not a timed test: run it by hand and copy its Markdown into BENCHMARKS.md.

    .venv/bin/python bench/export_bench.py
    .venv/bin/python bench/export_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

A synthetic register of ``--features`` shops is ingested (set-up, as in
``bench/ingest_bench.py``); then ``export_layers(layers=["shops"], ...)`` —
the query through ``governance.queries.open_shops`` plus the write — is timed
once per format, into a temporary folder. Also in EPSG:4549 for GeoPackage,
to show the cost of reprojection.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import NOW, database, machine, register, rss_mb, seed_grids  # noqa: E402
from pipelines.export import FORMATS, export_layers  # noqa: E402
from pipelines.ingest import ingest_shops  # noqa: E402


def run(url: str | None, n: int, seed: int) -> tuple[str, list[dict]]:
    shops, boundary = register(n, seed)
    results = []
    with tempfile.TemporaryDirectory() as folder, database(url) as (engine, backend):
        folder = Path(folder)
        seed_grids(engine, boundary)
        shops.to_csv(folder / "shops.csv", index=False)
        ingest_shops(engine, folder / "shops.csv", now=NOW)
        runs = [(fmt, None) for fmt in FORMATS] + [("gpkg", "EPSG:4549")]
        for fmt, crs in runs:
            out = folder / f"shops-{fmt}-{crs or 4326}".replace(":", "")
            started = time.perf_counter()
            result = export_layers(engine, layers=["shops"], fmt=fmt, out=out, crs=crs)
            seconds = time.perf_counter() - started
            assert result.features == {"shops": n}, result.features
            size = sum(p.stat().st_size for p in result.paths)
            results.append({"format": fmt, "crs": result.crs, "seconds": round(seconds, 2),
                            "mb": round(size / 2**20, 1), "peak_rss_mb": round(rss_mb())})
            print(f"  {fmt} {result.crs}: {seconds:.1f} s, {size / 2**20:.1f} MB", file=sys.stderr)
    return backend, results


def markdown(backend: str, n: int, results: list[dict]) -> str:
    lines = [f"| {backend} | format | CRS | seconds for {n:,} shops | file MB | peak RSS MB |",
             "|---|---|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {backend} | {r['format']} | {r['crs']} | {r['seconds']} | {r['mb']} | {r['peak_rss_mb']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default a temp SQLite file.")
    args = parser.parse_args(argv)
    backend, results = run(args.database_url, args.features, args.seed)
    print(f"machine: {machine()}")
    print(markdown(backend, args.features, results))


if __name__ == "__main__":
    main()
