"""`linpu grids build` on Dask: the same grids on any number of workers, --scheduler, and
no cluster where none is wanted (issue 26).

The clusters here are real ``distributed.LocalCluster`` s of worker processes on
127.0.0.1, started by the tests and passed to the command as ``--scheduler``.
"""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from distributed import Client, LocalCluster

from bench.synthetic_city import make_city
from pipelines.commands.grids import grids
from pipelines.grid_cluster import CLUSTER_MIN_SHOPS, OnDask

METRIC = 4549


def _cluster(workers: int) -> LocalCluster:
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.ERROR)


def _executed(address: str) -> int:
    """Tasks the cluster's workers have run so far."""
    with Client(address) as client:
        return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def _city_files(folder, n: int) -> dict[str, str]:
    city = make_city(n, seed=1)
    xy = shapely.get_coordinates(city.shops.geometry.values)
    shops = folder / f"shops_{n}.csv"
    pd.DataFrame({"shop_id": city.shops.shop_id, "lon": xy[:, 0], "lat": xy[:, 1]}).to_csv(
        shops, index=False)
    boundary, streets = folder / "boundary.geojson", folder / "streets.gpkg"
    city.boundary.to_file(boundary)
    city.streets.to_file(streets)
    return {"--shops": str(shops), "--boundary": str(boundary), "--streets": str(streets)}


def _build(files: dict[str, str], out, *extra: str):
    args = ["build", *[x for pair in files.items() for x in pair], "--out", str(out), *extra]
    result = CliRunner().invoke(grids, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def city_100k(tmp_path_factory):
    return _city_files(tmp_path_factory.mktemp("city100k"), 100_000)


def test_same_grids_on_1_2_and_4_workers_as_in_process_at_100k(city_100k, tmp_path):
    _build(city_100k, tmp_path / "here.gpkg", "--json")
    here = gpd.read_file(tmp_path / "here.gpkg", layer="grids").to_crs(METRIC)
    here_shops = gpd.read_file(tmp_path / "here.gpkg", layer="shops")
    for workers in (1, 2, 4):
        out = tmp_path / f"on{workers}.gpkg"
        with _cluster(workers) as cluster:
            result = _build(city_100k, out, "--scheduler", cluster.scheduler_address)
            assert _executed(cluster.scheduler_address) > 0
        assert f"tile work ran on {workers} Dask worker" in result.output
        there = gpd.read_file(out, layer="grids").to_crs(METRIC)
        assert there.code.tolist() == here.code.tolist()
        assert there.n_shops.tolist() == here.n_shops.tolist()
        same = shapely.equals_exact(there.geometry.values, here.geometry.values, tolerance=0.001)
        assert same.all(), f"{(~same).sum()} polygons differ by more than 1 mm on {workers} workers"
        shops = gpd.read_file(out, layer="shops")
        assert shops.grid_code.tolist() == here_shops.grid_code.tolist()


def test_quality_at_100k_is_within_the_rules(city_100k, tmp_path):
    with _cluster(2) as cluster:
        result = _build(city_100k, tmp_path / "g.gpkg", "--json", "--scheduler",
                        cluster.scheduler_address)
    report = json.loads(result.stdout)
    assert report["n_shops"] == 100_000
    assert report["size"]["share_within_bounds"] == 1.0  # mall grids counted apart
    assert report["parts_per_polygon"]["multi_part_grids"] == 0
    assert report["shops_outside_own_grid"] == 0
    assert report["invalid_polygons"] == 0
    assert report["gap_area_m2"] == 0 and report["overlap_area_m2"] == 0
    # 0.620 when benchmarked in-process before Dask (BENCHMARKS.md, issue 3).
    assert report["polsby_popper"]["mean"] >= 0.618


@pytest.fixture
def small_files(tmp_path):
    return _city_files(tmp_path, 3_000)


def test_scheduler_sends_the_tiles_to_that_cluster(small_files, tmp_path):
    with _cluster(1) as cluster:
        before = _executed(cluster.scheduler_address)
        result = _build(small_files, tmp_path / "g.gpkg", "--scheduler", cluster.scheduler_address)
        ran = _executed(cluster.scheduler_address) - before
    assert ran >= 3  # tiles, crossings, polygons and the quality, on the test's cluster
    assert f"tile work ran on 1 Dask worker ({cluster.scheduler_address})" in result.output
    assert "within [8, 12]: 100.0 %" in result.output


def test_an_unreachable_scheduler_is_one_line_naming_it(small_files, tmp_path, monkeypatch):
    monkeypatch.setattr("pipelines.grid_cluster.CONNECT_TIMEOUT_S", 2)
    out = tmp_path / "g.gpkg"
    args = ["build", *[x for pair in small_files.items() for x in pair], "--out", str(out),
            "--scheduler", "tcp://127.0.0.1:9"]
    result = CliRunner().invoke(grids, args)
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_small_builds_and_the_analysts_preview_start_no_cluster(small_files, tmp_path):
    """Below the threshold the CLI grids in its own process; the page's geo call never leaves it."""
    assert CLUSTER_MIN_SHOPS > 3_000
    script = textwrap.dedent(f"""
        import json, sys
        import geopandas as gpd, pandas as pd, psutil
        from click.testing import CliRunner
        from geo.gridding import build_grids
        from pipelines.commands.grids import grids
        files = {small_files!r}
        args = ["build", *[x for pair in files.items() for x in pair], "--out", {str(tmp_path / "g.gpkg")!r}]
        cli = CliRunner().invoke(grids, args)
        table = pd.read_csv(files["--shops"])
        shops = gpd.GeoDataFrame(geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)
        build_grids(shops, boundary=gpd.read_file(files["--boundary"]))  # as the analyst's page
        print(json.dumps({{"exit": cli.exit_code, "output": cli.output,
                          "dask": sorted(m for m in ("distributed", "dask") if m in sys.modules),
                          "children": len(psutil.Process().children(recursive=True))}}))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["exit"] == 0 and "Dask" not in seen["output"], seen["output"]
    assert seen["dask"] == [] and seen["children"] == 0


def test_geo_never_imports_dask():
    """The page calls geo directly: geo must not be able to start a cluster at any size."""
    for path in (Path(__file__).parent.parent / "geo").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("dask", "distributed") for n in names), path


def test_tile_results_come_back_in_tile_order_whatever_finishes_first():
    """Pieces that finish in reverse order (the first sleeps longest) come back in piece order."""

    def slow_square(i: int) -> int:
        time.sleep(0.05 * (12 - i))
        return i * i

    with _cluster(2) as cluster, Client(cluster.scheduler_address) as client:
        got = OnDask(client).map(slow_square, list(range(12)))
    assert got == [i * i for i in range(12)]
