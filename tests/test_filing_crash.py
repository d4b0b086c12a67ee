"""A case import killed with SIGKILL while the batch is being written leaves the database as before.

``linpu ingest cases`` files its rows in chunks (``governance.filing``), all
in the ingest's one transaction: a kill after some chunks are written must
leave no case, no history row and no changed figure behind.  The helpers
are those of ``test_killed_writes`` (kill once the command holds the
write lock; restart; compare).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import func, make_url, select

from governance.db import transaction
from governance.figures import refresh_grid_stats
from governance.models import Case, CaseHistory, CheckDue, GridStats
from pipelines.ingest import ingest_shops
from tests.test_ingest_shops import GOOD_SHOPS, seed_district
from tests.test_killed_writes import _after_restart, _start, kill_inside_write, register


def findings(tmp_path, n: int):
    """``n`` findings at distinct points of the district, a second apart."""
    points = pd.read_csv(register(tmp_path / f"points-{n}.csv", n))
    path = tmp_path / f"cases-{n}.csv"
    pd.DataFrame({
        "case_id": [f"C{i:06d}" for i in range(n)], "category": "fire_exit", "severity": "medium",
        "title": "安全出口上锁", "lon": points["lon"], "lat": points["lat"],
        "created_at": (pd.Timestamp("2026-03-01T00:00:00+00:00") + pd.to_timedelta(range(n), unit="s"))
        .strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }).to_csv(path, index=False)
    return path


def state(engine) -> list:
    with transaction(engine) as session:
        return [
            session.scalar(select(func.count()).select_from(Case)),
            session.scalar(select(func.count()).select_from(CaseHistory)),
            session.execute(select(GridStats.grid_id, GridStats.total).order_by(GridStats.grid_id)).all(),
            session.scalar(select(func.count()).select_from(CheckDue)),
        ]


@pytest.fixture
def district(engine):
    seed_district(engine)
    ingest_shops(engine, GOOD_SHOPS, now=datetime(2026, 1, 1, tzinfo=UTC))
    with transaction(engine) as session:
        refresh_grid_stats(session)
    return engine


def test_a_case_import_killed_while_filing_leaves_the_database_as_before(district, tmp_path):
    before = state(district)
    n = 20_000
    for _attempt in range(3):
        path = findings(tmp_path, n)
        if kill_inside_write(district, ["ingest", "cases", str(path), "--quiet"], timeout=300):
            break
        n *= 3  # it finished before it could be caught: a bigger file, on a database as before
        engine = _after_restart(district)
        with transaction(engine) as session:
            session.execute(CaseHistory.__table__.delete())
            session.execute(Case.__table__.delete())
            refresh_grid_stats(session)
    else:
        pytest.fail("the import never stayed in its write transaction long enough to be killed")
    engine = _after_restart(district)
    assert state(engine) == before, "a killed import left rows or figures behind"
    rerun = _start(engine, "ingest", "cases", str(path), "--quiet")
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    after = state(engine)
    assert after[:2] == [n, n] and sum(total for _, total in after[2]) == n
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(make_url(engine.url).database) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine.dispose()
