"""`linpu grids build` end to end, as a user runs it: CSV in, GeoPackage out (issue 26).

Run from the repository root::

    .venv/bin/python -m bench.gridding_cli_bench --sizes 1000000,5000000
    .venv/bin/python -m bench.gridding_cli_bench --sizes 100000 --scheduler tcp://127.0.0.1:8786

For each size a synthetic city (``bench.synthetic_city``, seed 1) is written
untimed as a CSV register (shop_id, name, lon, lat in WGS84) with its boundary
(GeoJSON) and streets (GeoPackage); then the real command runs in a child
process: ``python -m pipelines grids build --shops … --boundary … --streets …
--out … --json``. Timed: the whole command, imports included. Memory: the
command's process tree is sampled every 0.1 s with psutil; the main process's
peak is also read exactly from ``wait4``; every other process (Dask's nannies
and workers) is listed with its own sampled peak.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

DEFAULT_SIZES = (1_000_000,)


def write_city(n: int, folder: Path, *, seed: int = 1) -> dict[str, Path]:
    """The register, boundary and streets of a synthetic city of ``n`` shops, as files."""
    import pandas as pd  # late: only when a city is written
    import shapely

    from bench.synthetic_city import make_city

    city = make_city(n, seed=seed)
    xy = shapely.get_coordinates(city.shops.geometry.values)
    files = {
        "shops": folder / f"shops_{n}.csv",
        "boundary": folder / f"boundary_{n}.geojson",
        "streets": folder / f"streets_{n}.gpkg",
    }
    pd.DataFrame(
        {"shop_id": city.shops.shop_id, "name": city.shops.shop_id, "lon": xy[:, 0], "lat": xy[:, 1]}
    ).to_csv(files["shops"], index=False, float_format="%.7f")
    city.boundary.to_file(files["boundary"])
    city.streets.to_file(files["streets"])
    return files


def run_cli(files: dict[str, Path], out: Path, *, scheduler: str | None = None,
            code: Path | None = None) -> dict:
    """Run the command once; wall time, peak memory per process, and its quality report."""
    cmd = [
        sys.executable, "-m", "pipelines", "grids", "build",
        "--shops", str(files["shops"]), "--boundary", str(files["boundary"]),
        "--streets", str(files["streets"]), "--out", str(out), "--json",
    ]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    load_before = os.getloadavg()
    start = time.perf_counter()
    # Output to files: a pipe left unread would fill and stall the command.
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, text=True, cwd=code)
        status, usage, peaks = _watch(proc.pid)
        seconds = time.perf_counter() - start
        stdout, stderr = (f.seek(0) or f.read() for f in (out_file, err_file))
    load_after = os.getloadavg()
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": stderr.strip().splitlines()[-1:] or ["failed"], "seconds": round(seconds, 1)}
    others = sorted(
        ({"pid": pid, "process": name, "peak_rss_mb": round(rss)} for pid, (name, rss) in peaks.items()
         if pid != proc.pid),
        key=lambda r: -r["peak_rss_mb"],
    )
    return {
        "seconds": round(seconds, 1),
        "main_peak_rss_mb": round(usage.ru_maxrss / 1024),
        "other_processes": others,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "notes": [line for line in stderr.splitlines() if line.startswith("note:")],
        "quality": json.loads(stdout),
    }


def _watch(pid: int) -> tuple[int, object, dict[int, tuple[str, float]]]:
    """Wait for process ``pid``, sampling its tree's memory: exit status, rusage, peaks by pid."""
    main = psutil.Process(pid)
    peaks: dict[int, tuple[str, float]] = {}
    while True:
        # wait4, not poll(): it gives the main process's exact peak RSS when it ends.
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peaks
        try:
            tree = [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for p in tree:
            try:
                rss = p.memory_info().rss / 2**20
                name = " ".join(p.cmdline()[1:4])
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            peaks[p.pid] = (name, max(peaks.get(p.pid, ("", 0.0))[1], rss))
        time.sleep(0.1)


def summary(n: int, r: dict) -> str:
    if "error" in r:
        return f"{n:,} shops: failed after {r['seconds']} s: {r['error']}"
    q = r["quality"]
    workers = ", ".join(f"{o['peak_rss_mb']:,}" for o in r["other_processes"]) or "none"
    return (
        f"{n:,} shops: {r['seconds']} s, main peak RSS {r['main_peak_rss_mb']:,} MB, other processes "
        f"(MB): {workers}; {q['n_grids']:,} grids, within bounds "
        f"{100 * q['size']['share_within_bounds']:.1f} %, multi-part {q['parts_per_polygon']['multi_part_grids']}, "
        f"outside own grid {q['shops_outside_own_grid']}, mean PP {q['polsby_popper']['mean']:.3f}, "
        f"load {r['load_before']} -> {r['load_after']}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--scheduler", help="pass --scheduler ADDRESS to the command")
    parser.add_argument("--folder", help="keep the city files here (default: a temporary folder)")
    parser.add_argument("--code", type=Path,
                        help="run the command of another checkout (e.g. `git archive main` unpacked "
                             "there) for a before/after; default: this one")
    parser.add_argument("--save", help="also write the full results as JSON to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for n in (int(s) for s in args.sizes.split(",") if s):
            files = {k: folder / f"{k}_{n}{ext}" for k, ext in
                     (("shops", ".csv"), ("boundary", ".geojson"), ("streets", ".gpkg"))}
            if not all(p.exists() for p in files.values()):
                files = write_city(n, folder)
            result = {"n_shops": n, **run_cli(files, folder / f"grids_{n}.gpkg", scheduler=args.scheduler,
                                                 code=args.code)}
            results.append(result)
            print(summary(n, result), flush=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "command": " ".join(["python -m bench.gridding_cli_bench", *(argv or sys.argv[1:])]),
        "results": results,
    }
    if args.save:
        Path(args.save).write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
