"""linpu ingest cases / checks: validated field exports filed through the workflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import func, select

from governance.db import transaction
from governance.models import Case, CaseHistory, Grid, HazardCheck, Shop, User
from pipelines.ingest import ingest_shops
from pipelines.ingest_field import ingest_cases
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import GOOD_SHOPS, database_url, seed_district

cli = shop_tests.cli  # the same in-process `linpu` fixture

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def shops_db(engine):
    """The four-grid district with the 20 good shops and one grid leader."""
    seed_district(engine)
    ingest_shops(engine, GOOD_SHOPS, now=datetime(2026, 1, 1, tzinfo=UTC))
    with transaction(engine) as session:
        session.add(User(username="leader01", display_name="洪清泉", role="grid_leader"))
    return engine


def counts(engine) -> tuple[int, int, int]:
    with transaction(engine) as session:
        return (session.scalar(select(func.count()).select_from(Case)),
                session.scalar(select(func.count()).select_from(CaseHistory)),
                session.scalar(select(func.count()).select_from(HazardCheck)))


def cases_csv(tmp_path, rows: list[dict], name: str = "cases.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


SHOPS = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)


def finding(i: int, **changes) -> dict:
    shop = SHOPS.iloc[i]
    row = {"case_id": f"F{i:03d}", "category": "fire_exit", "severity": "medium", "title": "安全出口上锁",
           "description": "营业期间安全出口上锁", "lon": shop["lon"], "lat": shop["lat"],
           "shop_id": shop["shop_id"], "reporter": "leader01", "created_at": f"2026-07-{i + 1:02d} 10:57"}
    row.update(changes)
    return row


def test_findings_are_filed_as_warnings_in_their_grid_with_their_own_time(shops_db, cli, tmp_path):
    path = cases_csv(tmp_path, [finding(i) for i in range(5)] + [finding(5, lon="", lat="", category="用气")])
    result = cli(database_url(shops_db), "ingest", "cases", path)
    assert result.exit_code == 0, result.stderr
    assert "6 rows, 6 valid, 0 refused; written: 6 filed" in result.stdout
    with transaction(shops_db) as session:
        cases = session.execute(
            select(Case.state, Case.created_at, Grid.code, Shop.shop_code, Case.category, Case.reporter_id)
            .join(Grid, Grid.id == Case.grid_id).join(Shop, Shop.id == Case.shop_id).order_by(Case.created_at)
        ).all()
        leader = session.scalar(select(User.id).where(User.username == "leader01"))
        placed = dict(session.execute(select(Shop.shop_code, Grid.code).join(Grid, Grid.id == Shop.grid_id)).all())
    assert [c.state.value for c in cases] == ["warning"] * 6
    # Local China time in the file, UTC in the database.
    assert cases[0].created_at == datetime(2026, 7, 1, 2, 57, tzinfo=UTC)
    assert all(c.code == placed[c.shop_code] for c in cases)  # the grid of the point (or the shop)
    assert cases[5].category.value == "gas" and all(c.reporter_id == leader for c in cases)


def test_bad_rows_refuse_the_whole_file_and_name_row_and_field(shops_db, cli, tmp_path):
    url = database_url(shops_db)
    cli(url, "ingest", "cases", cases_csv(tmp_path, [finding(0)], "first.csv"))
    before = counts(shops_db)
    rows = [
        finding(1),
        finding(2, category="littering"),
        finding(3, created_at="2026-13-45 25:00"),
        finding(4, created_at="2031-01-01 08:00"),
        finding(5, lon="118.95"),
        finding(6, shop_id="NOPE", lon="", lat=""),
        finding(0),  # already stored
        finding(7, title=""),
        finding(8, case_id="F001"),
        finding(9, severity="catastrophic"),
        finding(10, lon=SHOPS.iloc[10]["lat"], lat=SHOPS.iloc[10]["lon"]),
    ]
    result = cli(url, "ingest", "cases", cases_csv(tmp_path, rows))
    assert result.exit_code == 1
    err = result.stderr
    assert "cases.csv row 3 field category: unknown value 'littering'" in err
    assert "cases.csv row 4 field created_at: '2026-13-45 25:00' is not a date and time" in err
    assert "cases.csv row 5 field created_at: '2031-01-01 08:00' lies in the future" in err
    assert "cases.csv row 6 field lon: (118.950000, " in err and "outside the district boundary" in err
    assert "cases.csv row 7 field shop_id: 'NOPE' is not a stored shop" in err
    assert "cases.csv row 8 field created_at: the same finding (category, time and place) is stored as case" in err
    assert "cases.csv row 9 field title: is empty" in err
    assert "cases.csv row 10 field case_id: 'F001' is repeated on row 2" in err
    assert "cases.csv row 11 field severity: unknown value 'catastrophic'" in err
    assert "cases.csv row 12 field lon: longitude 25.11" in err and "look swapped" in err
    assert counts(shops_db) == before
    skipped = cli(url, "ingest", "cases", cases_csv(tmp_path, rows), "--skip-invalid", "--json")
    assert skipped.exit_code == 0
    assert json.loads(skipped.stdout)["counts"]["filed"] == 0  # rows 2 and 10 share F001
    assert (tmp_path / "cases.rejected.csv").exists()


def test_dry_run_files_nothing(shops_db, cli, tmp_path):
    result = cli(database_url(shops_db), "ingest", "cases", cases_csv(tmp_path, [finding(0)]), "--dry-run")
    assert result.exit_code == 0 and "would write: 1 filed" in result.stdout
    assert counts(shops_db) == (0, 0, 0)


def test_cases_need_grids(engine, tmp_path):
    from pipelines.readers import InputFileError

    with pytest.raises(InputFileError, match=r"row 1 field \(grids\): there are no grids yet"):
        ingest_cases(engine, cases_csv(tmp_path, [finding(0, shop_id="")]))


def check_row(i: int, **changes) -> dict:
    row = {"check_id": f"K{i:03d}", "shop_id": SHOPS.iloc[i]["shop_id"], "category": "electricity",
           "performed_at": f"2026-08-{i + 1:02d}T10:00:00+08:00", "inspector": "leader01", "result": "pass",
           "failed_items": ""}
    row.update(changes)
    return row


def test_checks_are_recorded_and_a_failure_raises_a_case(shops_db, cli, tmp_path):
    rows = [check_row(0), check_row(1, result="fail", failed_items="elec.rcd;elec.box_closed"),
            check_row(2, category="用电", result="合格")]
    path = cases_csv(tmp_path, rows, "checks.csv")
    url = database_url(shops_db)
    result = cli(url, "ingest", "checks", path)
    assert result.exit_code == 0, result.stderr
    assert "written: 3 recorded, 1 failed, 1 cases raised" in result.stdout
    with transaction(shops_db) as session:
        case = session.scalars(select(Case)).one()
        check = session.scalars(select(HazardCheck).where(HazardCheck.case_id.is_not(None))).one()
    assert case.kind.value == "hazard_check" and case.severity.value == "high"  # worst failed item
    assert check.performed_at == datetime(2026, 8, 2, 2, 0, tzinfo=UTC)
    again = cli(url, "ingest", "checks", path)
    assert again.exit_code == 1
    assert "checks.csv row 2 field performed_at: the same check (shop, category, time) is stored as K" in again.stderr


def test_bad_check_rows_are_named(shops_db, cli, tmp_path):
    rows = [check_row(0, category="noise"), check_row(1, failed_items="elec.unknown", result="fail"),
            check_row(2, result="pass", failed_items="elec.rcd"), check_row(3, shop_id="NOPE")]
    result = cli(database_url(shops_db), "ingest", "checks", cases_csv(tmp_path, rows, "checks.csv"))
    assert result.exit_code == 1
    assert "checks.csv row 2 field category: unknown value 'noise'" in result.stderr
    assert "checks.csv row 3 field failed_items: unknown item 'elec.unknown'" in result.stderr
    assert "checks.csv row 4 field result: says 'pass' but failed_items lists 1 item(s)" in result.stderr
    assert "checks.csv row 5 field shop_id: 'NOPE' is not a stored shop" in result.stderr
    assert counts(shops_db) == (0, 0, 0)


def test_a_long_export_is_filed_whole(shops_db, tmp_path):
    # More rows than the batch after which the session is flushed and emptied.
    rows = [finding(i % 20, case_id=f"L{i:04d}", created_at=f"2026-06-01 08:{i // 60:02d}:{i % 60:02d}")
            for i in range(520)]
    report = ingest_cases(shops_db, cases_csv(tmp_path, rows), now=NOW)
    assert report.counts["filed"] == 520 and report.written
    assert counts(shops_db) == (520, 520, 0)


def test_text_with_a_nul_byte_is_a_row_error_naming_the_field(shops_db, cli, tmp_path):
    # Past the first 4 KB of the file, and over many rows.
    rows = [finding(i % 20, case_id=f"N{i:03d}", created_at=f"2026-06-01 09:{i:02d}") for i in range(60)]
    rows[50]["title"] = "安全出口\x00上锁"
    rows[55]["department"] = "消防\x00大队"
    rows[57]["requester"] = "王" * 129
    path = cases_csv(tmp_path, rows)
    assert path.read_bytes().index(b"\x00") > 4096
    result = cli(database_url(shops_db), "ingest", "cases", path)
    assert result.exit_code == 1
    assert "cases.csv row 52 field title: contains a NUL character" in result.stderr
    assert "cases.csv row 57 field department: contains a NUL character" in result.stderr
    assert "cases.csv row 59 field requester: longer than 128 characters" in result.stderr
    assert counts(shops_db) == (0, 0, 0)
    skipped = cli(database_url(shops_db), "ingest", "cases", path, "--skip-invalid", "--json")
    assert skipped.exit_code == 0 and json.loads(skipped.stdout)["counts"]["filed"] == 57
    assert counts(shops_db)[:2] == (57, 57)


def test_a_stray_nul_in_a_short_file_is_a_row_error_too(shops_db, cli, tmp_path):
    path = cases_csv(tmp_path, [finding(0), finding(1, title="出口\x00上锁")])
    result = cli(database_url(shops_db), "ingest", "cases", path)
    assert result.exit_code == 1
    assert "cases.csv row 3 field title: contains a NUL character" in result.stderr
    assert counts(shops_db) == (0, 0, 0)
    # A file full of NUL bytes (UTF-16 without a byte-order mark) is still refused whole.
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(path.read_text(encoding="utf-8").encode("utf-16-le"))
    refused = cli(database_url(shops_db), "ingest", "cases", utf16)
    assert refused.exit_code == 1 and "the file is UTF-16 or binary" in refused.stderr


def test_a_nul_in_a_shop_register_is_a_row_error(engine, cli, tmp_path):
    from tests.test_ingest_shops import seed_district

    seed_district(engine)
    shops = SHOPS.copy()
    shops.loc[3, "name"] = "老\x00店"
    path = tmp_path / "shops.csv"
    shops.to_csv(path, index=False)
    result = cli(database_url(engine), "ingest", "shops", path)
    assert result.exit_code == 1
    assert "shops.csv row 5 field name: contains a NUL character" in result.stderr
