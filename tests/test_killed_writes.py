"""Crashes: an ingest and a grid rebuild killed with SIGKILL half-way (issue 7).

``linpu ingest shops`` on a large generated register, and ``linpu grids
save`` (which adopts the new generation through
``governance.grids.adopt_generation``), each run as a subprocess.  The test
waits until the command is demonstrably inside its write transaction, then
kills it with SIGKILL:

- on SQLite (WAL) another connection tries ``BEGIN IMMEDIATE`` without
  waiting: "database is locked" means a writer holds the write lock;
- on PostGIS, ``pg_locks`` shows another backend holding a
  ``RowExclusiveLock`` on a table of the test's schema.

If the command finished before it could be caught, it is run again with a
bigger input.  After the kill the database must be exactly as before, and
rerunning the command completes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, func, make_url, select, text

from governance.db import transaction
from governance.models import CaseHistory, Grid, GridGeneration, Shop
from tests.test_ingest_shops import DEMO, seed_district, snapshot

ROOT = Path(__file__).resolve().parent.parent


def register(path: Path, n: int, *, seed: int = 0) -> Path:
    """A shop register of ``n`` shops at distinct points inside the demo district."""
    boundary = gpd.read_file(DEMO / "boundary.geojson").geometry.iloc[0]
    minx, miny, maxx, maxy = boundary.bounds
    rng = np.random.default_rng(seed)
    points = np.empty((0, 2))
    while len(points) < n:
        xy = np.c_[rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)]
        xy = xy[shapely.contains_xy(boundary, xy[:, 0], xy[:, 1])]
        points = np.unique(np.r_[points, np.round(xy, 7)], axis=0)
    points = points[rng.permutation(len(points))[:n]]
    pd.DataFrame({
        "shop_id": [f"CR{i:06d}" for i in range(n)], "name": [f"商户{i}" for i in range(n)],
        "trade": "retail", "street": "山腰路", "lon": points[:, 0], "lat": points[:, 1],
    }).to_csv(path, index=False)
    return path


def _in_write_transaction(engine: Engine) -> bool:
    url = make_url(engine.url)
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            probe.close()
    schema = url.query["options"].split("search_path=")[1].split(",")[0]
    with engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
        ), {"schema": schema}).scalar())


def _start(engine: Engine, *args: str) -> subprocess.Popen:
    env = {**os.environ, "LINPU_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.Popen([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_inside_write(engine: Engine, args: list[str], *, timeout: float = 120) -> bool:
    """Run the command; SIGKILL it once it holds the write lock. False if it finished first."""
    process = _start(engine, *args)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _in_write_transaction(engine):
                time.sleep(0.05)  # well inside: a few statements later
                if process.poll() is not None:
                    return False
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                return process.returncode == -signal.SIGKILL
            time.sleep(0.01)
        raise AssertionError(f"{args} neither wrote nor finished within {timeout} s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _after_restart(engine: Engine) -> Engine:
    """A new engine, as after a crash: SQLite recovers from its WAL on the first connection."""
    from governance.db import make_engine

    engine.dispose()
    return make_engine(engine.url.render_as_string(hide_password=False))


def _grids_state(engine: Engine) -> list:
    with transaction(engine) as session:
        return [
            session.execute(select(GridGeneration.id, GridGeneration.is_current).order_by(GridGeneration.id)).all(),
            session.execute(select(Grid.code, Grid.generation_id, Grid.n_shops).order_by(Grid.id)).all(),
            session.execute(select(Shop.shop_code, Shop.grid_id).order_by(Shop.shop_code)).all(),
            session.scalar(select(func.count()).select_from(CaseHistory)),
        ]


@pytest.fixture
def district(engine) -> Engine:
    seed_district(engine)
    return engine


def test_an_ingest_killed_inside_its_transaction_leaves_the_database_as_before(district, tmp_path):
    before = snapshot(district)
    n = 4000
    for _attempt in range(3):
        path = register(tmp_path / f"register-{n}.csv", n)
        if kill_inside_write(district, ["ingest", "shops", str(path), "--quiet"]):
            break
        n *= 3  # it finished before it could be caught: a bigger register
        engine = _after_restart(district)
        with transaction(engine) as session:
            session.execute(text("DELETE FROM shops"))
    else:
        pytest.fail("the ingest never stayed in its write transaction long enough to be killed")
    engine = _after_restart(district)
    assert snapshot(engine) == before, "a killed ingest left rows behind"
    rerun = _start(engine, "ingest", "shops", str(path), "--quiet")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Shop)) == n
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(make_url(engine.url).database) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine.dispose()


def test_a_grid_rebuild_killed_inside_its_transaction_leaves_the_database_as_before(district, tmp_path):
    path = register(tmp_path / "register.csv", 2500, seed=1)
    ingest = _start(district, "ingest", "shops", str(path), "--quiet")
    assert ingest.wait(300) == 0, ingest.stderr.read()
    for _attempt in range(3):
        before = _grids_state(district)
        if kill_inside_write(district, ["grids", "save", "--json"]):
            break
        # It finished (and adopted a generation) before it could be caught: try again from there.
    else:
        pytest.fail("grids save always finished before it could be caught inside its write transaction")
    engine = _after_restart(district)
    assert _grids_state(engine) == before, "a killed grid rebuild left a half-adopted generation"
    rerun = _start(engine, "grids", "save", "--json")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    after = _grids_state(engine)
    assert len(after[0]) == len(before[0]) + 1 and after[0][-1][1] is True
    assert sum(1 for _, current in after[0] if current) == 1
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(make_url(engine.url).database) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine.dispose()
