"""A field export streamed a chunk at a time keeps the whole-file guarantees (issue 25).

The files here are small; ``chunk_rows`` makes them several chunks, so what
holds across chunks (a repeat far apart, a bad row after good chunks were
written) is what a million-row file meets.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from governance.db import transaction
from governance.figures import refresh_grid_stats
from governance.models import Case, GridStats, Notification
from pipelines.ingest_field import ingest_cases, ingest_checks
from pipelines.readers import read_bytes, read_chunks
from tests.test_ingest_field import NOW, SHOPS, cases_csv, counts, finding
from tests.test_ingest_field import shops_db as district_with_shops


@pytest.fixture
def shops_db(engine):
    """The four-grid district with the 20 good shops and one grid leader (test_ingest_field's),
    with its kept figures, so that a withdrawn case must be taken out of them."""
    engine = district_with_shops.__wrapped__(engine)
    with transaction(engine) as session:
        refresh_grid_stats(session)
    return engine


def stored_state(engine) -> tuple:
    with transaction(engine) as session:
        return (counts(engine), session.scalar(select(func.coalesce(func.sum(GridStats.total), 0))),
                session.scalar(select(func.count()).select_from(Notification)))


def test_a_repeat_in_a_later_chunk_refuses_both_rows_and_writes_nothing(shops_db, tmp_path):
    rows = [finding(i) for i in range(8)]
    rows[7]["case_id"] = "F001"  # file row 9 repeats file row 3, two chunks later
    before = stored_state(shops_db)
    report = ingest_cases(shops_db, cases_csv(tmp_path, rows), now=NOW, chunk_rows=3)
    assert report.refused and not report.written
    said = {(p.row, p.field): p.message for p in report.problems}
    assert said == {(3, "case_id"): "'F001' is repeated on row 9", (9, "case_id"): "'F001' is repeated on row 3"}
    assert stored_state(shops_db) == before


def test_with_skip_invalid_a_row_written_before_its_repeat_turned_up_is_withdrawn(shops_db, tmp_path):
    rows = [finding(i) for i in range(8)]
    rows[7]["case_id"] = "F001"
    report = ingest_cases(shops_db, cases_csv(tmp_path, rows), now=NOW, chunk_rows=3, skip_invalid=True)
    assert report.written and report.counts["filed"] == 6
    assert list(report.rejected["row"]) == [3, 9]
    assert list(report.rejected["case_id"]) == ["F001", "F001"]  # the rows as they came, the early one read again
    with transaction(shops_db) as session:
        stored = session.scalar(select(func.count()).select_from(Case))
        totals = session.scalar(select(func.sum(GridStats.total)))
        notices = session.scalars(select(Notification.data).where(Notification.event == "cases_imported")).all()
    assert stored == 6 and totals == 6
    assert sum(n["count"] for n in notices) == 6  # one summary per grid, the withdrawn case not counted


def test_a_bad_row_in_the_last_chunk_leaves_the_earlier_chunks_unwritten(shops_db, tmp_path):
    rows = [finding(i) for i in range(7)] + [finding(7, category="volcano")]
    before = stored_state(shops_db)
    report = ingest_cases(shops_db, cases_csv(tmp_path, rows), now=NOW, chunk_rows=2)
    assert report.refused and [(p.row, p.field) for p in report.problems] == [(9, "category")]
    assert stored_state(shops_db) == before


def test_a_dry_run_of_several_chunks_writes_nothing(shops_db, tmp_path):
    before = stored_state(shops_db)
    report = ingest_cases(shops_db, cases_csv(tmp_path, [finding(i) for i in range(7)]), now=NOW, chunk_rows=2,
                          dry_run=True)
    assert report.counts["filed"] == 7 and not report.written
    assert stored_state(shops_db) == before


def test_a_check_repeated_in_a_later_chunk_is_withdrawn_with_its_case(shops_db, tmp_path):
    checks = [{"check_id": f"K{i}", "shop_id": SHOPS.iloc[i]["shop_id"], "category": "electricity",
               "performed_at": f"2026-07-{i + 1:02d} 10:00", "failed_items": "elec.rcd"} for i in range(6)]
    checks[5]["check_id"] = "K0"
    path = tmp_path / "checks.csv"
    pd.DataFrame(checks).to_csv(path, index=False)
    report = ingest_checks(shops_db, path, now=NOW, chunk_rows=2, skip_invalid=True)
    assert report.written and report.counts == {"recorded": 4, "failed": 4, "cases_raised": 4}
    assert counts(shops_db) == (4, 4, 4)  # cases, their history rows, checks


CSV = (
    "\n\nshop_id,name,note\n"
    "S1,甲,\"two\nlines\"\n"
    "\n"
    "S2,乙\n"  # cut short
    "S3,丙,x,extra\n"  # one field too many
    "S4,丁,\"a, b\"\n"
    "S5,戊,y\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("rows", [1, 2, 50])
def test_a_csv_read_in_chunks_is_the_file_read_whole(encoding, rows):
    data = CSV.encode(encoding)
    whole = read_bytes(data, "shops.csv")
    chunks = list(read_chunks(data, "shops.csv", rows=rows))
    assert pd.concat([c.frame for c in chunks]).equals(whole.frame)
    assert [p for c in chunks for p in c.problems] == whole.problems
    assert {c.encoding for c in chunks} == {whole.encoding}
