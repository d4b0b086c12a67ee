"""Benchmark of the gridding engine on synthetic cities.

Run from the repository root::

    .venv/bin/python -m bench.gridding_bench                 # 10k, 100k, 1M + churn
    .venv/bin/python -m bench.gridding_bench --compare       # + k-means-constrained, KMeans
    .venv/bin/python -m bench.gridding_bench --sizes 10000 --markdown

Every size runs in a fresh process so that its peak memory (max RSS) is its
own; the figure includes generating the synthetic city, which is reported
separately as ``rss_before_mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Wall time, CPU time (this process and its workers) and the load around it.

    The machine may be shared: CPU time shows the work done whatever else
    runs, wall time what a user waits, the load average how busy it was.
    """

    def __enter__(self):
        self._wall = time.perf_counter()
        self._cpu = self._cpu_now()
        return self

    def __exit__(self, *exc):
        self.seconds = round(time.perf_counter() - self._wall, 3)
        self.cpu_seconds = round(self._cpu_now() - self._cpu, 3)
        self.load = round(os.getloadavg()[0], 2)

    @staticmethod
    def _cpu_now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def figures(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "load_1min": self.load}


def run_build(n: int, seed: int) -> dict:
    from bench.synthetic_city import make_city
    from geo.gridding import build_grids, grid_quality

    city = make_city(n, seed=seed)
    rss_before = _rss_mb()
    with Timer() as timer:
        grids, codes = build_grids(
            city.shops, boundary=city.boundary, streets=city.streets, seed=seed
        )
    rss_after = _rss_mb()
    quality = grid_quality(
        grids, city.shops, shop_codes=codes, boundary=city.boundary, streets=city.streets
    )
    return {
        "method": "linpu build_grids",
        "n_shops": n,
        **timer.figures(),
        "rss_before_mb": round(rss_before),
        "peak_rss_mb": round(rss_after),
        "malls": city.n_malls,
        "quality": quality,
    }


def churn(shops, share: float, seed: int):
    """Close ``share/2`` of the shops and open as many next door to others."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    n_change = int(round(len(shops) * share / 2))
    closed = rng.choice(len(shops), size=n_change, replace=False)
    kept = shops.drop(shops.index[closed])
    street = np.flatnonzero((shops["kind"] == "street").to_numpy())
    parents = shops.iloc[rng.choice(street, size=n_change, replace=False)]
    metric = parents.to_crs(4549)
    xy = shapely.get_coordinates(metric.geometry.values)
    angle = rng.uniform(0, 2 * np.pi, n_change)
    step = rng.uniform(3, 8, n_change)
    xy = xy + np.c_[np.cos(angle), np.sin(angle)] * step[:, None]
    opened = gpd.GeoDataFrame(
        {"shop_id": [f"N{i:07d}" for i in range(n_change)], "kind": "street"},
        geometry=shapely.points(xy),
        crs=4549,
    ).to_crs(shops.crs)
    opened.index = pd.RangeIndex(len(shops), len(shops) + n_change)
    return pd.concat([kept, opened]), kept.index


def run_update(n: int, seed: int, shares=(0.01, 0.05)) -> list[dict]:
    from bench.synthetic_city import make_city
    from geo.gridding import build_grids, grid_quality, update_grids

    city = make_city(n, seed=seed)
    grids, codes = build_grids(city.shops, boundary=city.boundary, streets=city.streets, seed=seed)
    out = []
    for share in shares:
        shops, remaining = churn(city.shops, share, seed + 1)
        with Timer() as timer:
            new_grids, new_codes, changes = update_grids(grids, shops, streets=city.streets)
        kept = float((new_codes.loc[remaining] == codes.loc[remaining]).mean())
        quality = grid_quality(
            new_grids, shops, shop_codes=new_codes, boundary=city.boundary, streets=city.streets
        )
        out.append(
            {
                "method": "linpu update_grids",
                "n_shops": n,
                "churn": share,
                **timer.figures(),
                "remaining_shops_kept": round(kept, 4),
                "grids_unchanged": round(1 - len(changes.reshaped) / len(grids), 4),
                "changes": {
                    k: len(v) if not isinstance(v, int) else v for k, v in changes.as_dict().items()
                },
                "quality": quality,
            }
        )
    return out


def run_compare(n: int, seed: int) -> list[dict]:
    """k-means-constrained and plain KMeans on the same shops, same polygons."""
    import geopandas as gpd
    import shapely

    from bench.synthetic_city import make_city
    from geo.gridding import grid_quality, metric_crs
    from geo.voronoi import absorb_fragments, clip_to, dissolve_cells, voronoi_diagram

    city = make_city(n, seed=seed)
    crs = metric_crs(city.shops)
    xy = shapely.get_coordinates(city.shops.geometry.to_crs(crs).values)
    region = shapely.union_all(city.boundary.geometry.to_crs(crs).values)
    k = int(round(n / 10))
    results = []

    def evaluate(name: str, labels: np.ndarray, timer: Timer, peak: float, note: str) -> dict:
        # Shops at one coordinate share a Voronoi cell: the location goes to
        # the cluster of its first shop, as any polygon layer must decide.
        loc, first = np.unique(np.round(xy, 1), axis=0, return_index=True)
        k_all = int(labels.max()) + 1
        loc_label = labels[first].astype(np.int64)
        diagram = voronoi_diagram(loc, region)
        polys = clip_to(dissolve_cells(diagram, loc_label, k_all), region)
        order = np.argsort(loc_label, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(loc_label, minlength=k_all))]
        polys = absorb_fragments(
            polys, [loc[order[bounds[i] : bounds[i + 1]]] for i in range(k_all)]
        )
        codes = np.array([f"K{i:06d}" for i in range(k_all)], dtype=object)
        # A cluster whose shops all stand where another cluster's shop stands
        # gets no polygon; its shops count as outside their grid.
        has = ~shapely.is_missing(polys)
        grids = gpd.GeoDataFrame({"code": codes[has]}, geometry=list(polys[has]), crs=crs).to_crs(
            city.shops.crs
        )
        import pandas as pd

        shop_codes = pd.Series(codes[labels], index=city.shops.index)
        quality = grid_quality(
            grids, city.shops, shop_codes=shop_codes, boundary=city.boundary, streets=city.streets
        )
        return {
            "method": name,
            "n_shops": n,
            **timer.figures(),
            "peak_rss_mb": round(peak),
            "note": note,
            "quality": quality,
        }

    try:
        from sklearn.cluster import KMeans
    except ImportError:
        results.append(
            {"method": "scikit-learn KMeans", "note": "not installed (pip install '.[bench]')"}
        )
    else:
        with Timer() as timer:
            labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(xy)
        results.append(evaluate("scikit-learn KMeans", labels, timer, _rss_mb(), "n_init=1"))
    try:
        from k_means_constrained import KMeansConstrained
    except ImportError:
        results.append(
            {"method": "k-means-constrained", "note": "not installed (pip install '.[bench]')"}
        )
    else:
        model = KMeansConstrained(
            n_clusters=k, size_min=8, size_max=12, n_init=1, random_state=seed
        )
        with Timer() as timer:
            labels = model.fit_predict(xy)
        results.append(
            evaluate("k-means-constrained (min 8, max 12)", labels, timer, _rss_mb(), "n_init=1")
        )
    return results


def _child(args: list[str]) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gridding_bench", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return [
            {
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed",
                "args": args,
            }
        ]
    return json.loads(proc.stdout)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def markdown(results: list[dict]) -> str:
    rows = [
        "| method | shops | time (s) | CPU (s) | load | peak RSS (MB) | grids in bounds | size min–max | mean PP | min PP | multi-part | straddling main road | max walk (m) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "quality" not in r:
            rows.append(
                f"| {r.get('method', r.get('args'))} | | | | {r.get('note', r.get('error'))} | | | | | | |"
            )
            continue
        q = r["quality"]
        name = r["method"] + (f", {100 * r['churn']:.0f} % churn" if "churn" in r else "")
        rows.append(
            f"| {name} | {r['n_shops']:,} | {r['seconds']} | {r.get('cpu_seconds', '')} | "
            f"{r.get('load_1min', '')} | {r.get('peak_rss_mb', '')} | "
            f"{100 * q['size']['share_within_bounds']:.1f} % | {q['size']['min']:.0f}–{q['size']['max']:.0f} | "
            f"{q['polsby_popper']['mean']:.3f} | {q['polsby_popper']['min']:.3f} | "
            f"{q['parts_per_polygon']['multi_part_grids']} | {100 * (q['straddling_main_road_share'] or 0):.1f} % | "
            f"{q['walking_span_m']['max']:.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run k-means-constrained and KMeans on 10,000 shops",
    )
    parser.add_argument("--no-churn", action="store_true")
    parser.add_argument(
        "--markdown", action="store_true", help="print a Markdown table instead of JSON"
    )
    parser.add_argument("--save", help="also write the full results as JSON to this file")
    parser.add_argument("--one", choices=["build", "update", "compare"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:
        n = int(args.sizes)
        result = {
            "build": lambda: [run_build(n, args.seed)],
            "update": lambda: run_update(n, args.seed),
            "compare": lambda: run_compare(n, args.seed),
        }[args.one]()
        json.dump(result, sys.stdout, default=str)
        return

    results: list[dict] = []
    sizes = [int(s) for s in args.sizes.split(",") if s]
    for n in sizes:
        results += _child(["--one", "build", "--sizes", str(n), "--seed", str(args.seed)])
        print(f"built {n}", file=sys.stderr)
    if not args.no_churn:
        results += _child(["--one", "update", "--sizes", "10000", "--seed", str(args.seed)])
        print("updated", file=sys.stderr)
    if args.compare:
        results += _child(["--one", "compare", "--sizes", "10000", "--seed", str(args.seed)])
    report = {
        "machine": machine(),
        "command": " ".join(
            [
                os.path.basename(sys.executable),
                "-m",
                "bench.gridding_bench",
                *(argv or sys.argv[1:]),
            ]
        ),
        "results": results,
    }
    if args.save:
        with open(args.save, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=str)
    if args.markdown:
        print(markdown(results))
        for r in results:
            if "remaining_shops_kept" in r:
                print(
                    f"\nupdate after {100 * r['churn']:.0f} % churn: {100 * r['remaining_shops_kept']:.2f} % of remaining shops kept, "
                    f"{100 * r['grids_unchanged']:.1f} % of grids unchanged, {r['seconds']} s, changes {r['changes']}"
                )
        base = next(
            (
                r
                for r in results
                if r.get("method") == "linpu build_grids" and r["n_shops"] == 10_000
            ),
            None,
        )
        for r in results:
            if (
                base
                and "quality" in r
                and r["method"] not in ("linpu build_grids", "linpu update_grids")
            ):
                print(
                    f"\n{r['method']} vs linpu on 10,000 shops: "
                    f"{r['seconds'] / base['seconds']:.0f}x the wall time, "
                    f"{r['cpu_seconds'] / base['cpu_seconds']:.1f}x the CPU time, "
                    f"{r['peak_rss_mb'] / base['peak_rss_mb']:.1f}x the peak memory, "
                    f"grids in bounds {100 * r['quality']['size']['share_within_bounds']:.1f} % vs "
                    f"{100 * base['quality']['size']['share_within_bounds']:.1f} %, "
                    f"straddling {100 * r['quality']['straddling_main_road_share']:.1f} % vs "
                    f"{100 * base['quality']['straddling_main_road_share']:.1f} %, "
                    f"shops outside their own polygon {r['quality']['shops_outside_own_grid']} vs "
                    f"{base['quality']['shops_outside_own_grid']}"
                )
        print(f"\nmachine: {report['machine']}")
        print(f"command: {report['command']}")
    else:
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
