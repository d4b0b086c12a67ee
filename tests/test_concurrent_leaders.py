"""A short run of the load test (bench/load_test.py): 10 leaders for 5 seconds (issue 7).

Asserts the integrity properties, never timings: no lost update, no doubled
transition, no history gap, no deadlock or unexpected error, and a stored
loop summary that agrees with the cases table.  On SQLite (WAL) and, when
``LINPU_TEST_DATABASE_URL`` is set, on PostGIS.  The full 50-leader,
60-second run is ``bench/load_test.py`` (figures in BENCHMARKS.md).
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from governance.db import make_engine, transaction
from governance.errors import DatabaseBusy
from governance.migrate import upgrade
from governance.models import Case, CaseHistory
from governance.permissions import viewer_for
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case

ROOT = Path(__file__).resolve().parent.parent


def _load_test_module():
    spec = importlib.util.spec_from_file_location("linpu_load_test", ROOT / "bench" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


load_test = _load_test_module()


def test_ten_leaders_for_five_seconds_lose_nothing(engine):
    url = engine.url.render_as_string(hide_password=False)
    result = load_test.run_load(url, leaders=10, seconds=5, grace=30)
    assert result["problems"] == []
    assert result["cases_filed"] > 0 and result["transitions_committed"] > 0
    assert result["history_rows"] == result["cases_filed"] + result["transitions_committed"]
    assert result["summary_reads"] > 0


def test_the_integrity_check_catches_a_lost_update_and_a_gap(engine):
    """The checker is not vacuous: a claimed change missing from the history, and a gap, are reported."""
    url = engine.url.render_as_string(hide_password=False)
    result = load_test.run_load(url, leaders=2, seconds=1, grace=10)
    assert result["problems"] == []
    from sqlalchemy import delete, select

    from governance.db import transaction
    from governance.models import CaseHistory

    worker = load_test.Worker("leader001", committed=[(10**6, 1, "raise")])
    report = load_test.check_integrity(engine, [worker])
    assert any("not in the history" in p for p in report["problems"])
    with transaction(engine) as session:
        row = session.execute(select(CaseHistory.id).where(CaseHistory.seq == 1).limit(1)).scalar_one()
        session.execute(delete(CaseHistory).where(CaseHistory.id == row))
    report = load_test.check_integrity(engine, [])
    assert any("history seq" in p for p in report["problems"])


@pytest.mark.parametrize("leaders, seconds", [(0, 5), (10, 0), (500, 5), (10, 10_000)])
def test_the_load_test_is_bounded(leaders, seconds):
    with pytest.raises(ValueError):
        load_test.run_load("sqlite:///unused.sqlite3", leaders=leaders, seconds=seconds)


def test_a_write_that_waits_out_the_sqlite_lock_is_refused_whole_and_succeeds_on_retry(tmp_path):
    """Another writer holds SQLite's write lock past the busy timeout: the leader gets DatabaseBusy
    (the dashboard shows it as "busy, try again"), nothing of the case is stored, and a retry works."""
    engine = make_engine(f"sqlite:///{tmp_path / 'busy.sqlite3'}")
    upgrade(engine)
    seed_small_district(engine)
    # A short wait keeps the test quick; the app waits 10 s.
    event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA busy_timeout=100"))
    engine.dispose()

    def file_one(title: str):
        with transaction(engine) as session:
            return file_case(session, viewer_for(session, "leader1"), kind="patrol", category="gas",
                             severity="low", title=title, lon=IN_G001[0], lat=IN_G001[1]).case_no

    blocker = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseBusy, match="nothing was saved"):
            file_one("blocked")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    case_no = file_one("after the lock")
    with transaction(engine) as session:
        assert session.scalars(select(Case.title)).all() == ["after the lock"]
        assert session.scalar(select(func.count()).select_from(CaseHistory)) == 1
    assert case_no
