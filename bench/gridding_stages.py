"""Where the time of `linpu grids build` goes: serial (this process) or tile work (Dask workers).

Run from the repository root, on files written by ``bench.gridding_cli_bench --folder``::

    .venv/bin/python -m bench.gridding_stages --folder /tmp/city --size 1000000 [--workers 2]

It runs the job behind the command (``pipelines.grid_files.build_grid_file``'s
steps: read, build, measure, write) in this process with the same tile runner,
and wraps the tile map so that it knows how long this process waited for the
pieces (wall) and how long the pieces took on the workers (their own clocks).
Serial time is everything else: the part no number of workers shortens. The
command's import time is measured apart (``python -m pipelines --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


class Timed:
    """A piece function that also returns how long it ran (on whichever worker)."""

    def __init__(self, function) -> None:
        self.function = function

    def __call__(self, piece):
        start = time.perf_counter()
        result = self.function(piece)
        return result, time.perf_counter() - start


def stages(folder: Path, n: int, *, workers: int | None, scheduler: str | None) -> dict:
    from geo.gridding import build_grids, grid_quality  # late: after the import time is taken
    from geo.quality import shop_neighbours, straddle_share
    from pipelines import grid_cluster
    from pipelines.grid_files import _optional, _write_aside, read_register

    if workers:
        # A cluster of that size whatever the number of shops.
        grid_cluster.local_workers = lambda: workers
        grid_cluster.CLUSTER_MIN_SHOPS = 0
    spent: dict[str, list[float]] = {}
    clock = {"start": time.perf_counter()}

    def lap(name: str) -> None:
        now = time.perf_counter()
        spent.setdefault(name, [0.0, 0.0, 0])[0] += now - clock["start"]
        clock["start"] = now

    shops, _ = read_register(folder / f"shops_{n}.csv")
    boundary = _optional(folder / f"boundary_{n}.geojson", "boundary")
    streets = _optional(folder / f"streets_{n}.gpkg", "streets")
    lap("read (serial)")
    with grid_cluster.tile_runner(n, scheduler=scheduler) as runner:
        lap("start cluster (serial)")

        def timed_map(function, pieces):
            lap("build, this process (serial)")
            out = runner.map(Timed(function), pieces)
            name = f"tile work: {function.__name__}"
            lap(name)
            spent[name][1] += sum(seconds for _, seconds in out)
            spent[name][2] += len(pieces)
            return [result for result, _ in out]

        points = runner.share(shops[[shops.geometry.name]])
        neighbours = runner.submit(shop_neighbours, points)
        grids, codes = build_grids(shops, boundary=boundary, streets=streets, map_tiles=timed_map)
        lap("build, this process (serial)")
        g, c = runner.share(grids), runner.share(codes)
        quality = runner.submit(grid_quality, g, points, shop_codes=c, boundary=boundary)
        straddle = runner.submit(straddle_share, g, points, streets=streets, shop_codes=c,
                                 neighbours=neighbours)
        written = _write_aside(folder / f"stages_{n}.gpkg", grids, shops.assign(grid_code=codes))
        lap("write GeoPackage (serial, the quality measured meanwhile)")
        quality.result(), straddle.result()
        lap("wait for the quality after writing")
        workers_used = runner.workers
    written.unlink()
    lap("close cluster")
    total = sum(v[0] for v in spent.values())
    parallel_wall = sum(v[0] for k, v in spent.items() if k.startswith("tile work"))
    return {
        "n_shops": n,
        "workers": workers_used,
        "job_seconds": round(total, 2),
        "stages": {k: {"wall_s": round(v[0], 2), **({"pieces": v[2], "work_s": round(v[1], 2)} if v[2] else {})}
                   for k, v in spent.items()},
        "tile_work_wall_s": round(parallel_wall, 2),
        "tile_work_cpu_s": round(sum(v[1] for v in spent.values()), 2),
        "serial_s": round(total - parallel_wall, 2),
        "peak_rss_mb_this_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipelines", "grids", "build", "--help"],
                   check=True, capture_output=True)
    return round(time.perf_counter() - start, 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--size", required=True, type=int)
    parser.add_argument("--workers", type=int, help="local cluster size (default: one per core)")
    parser.add_argument("--scheduler")
    args = parser.parse_args(argv)
    report = {"import_s": import_seconds(),
              **stages(args.folder, args.size, workers=args.workers, scheduler=args.scheduler)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
