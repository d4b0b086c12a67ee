"""governance.filing.file_cases: many cases at once, the same outcome as file_case row by row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from governance.catalog import Category
from governance.db import session_factory, transaction
from governance.errors import NotFoundError, OutsideGrids, PermissionDenied, ValidationError
from governance.figures import refresh_grid_stats
from governance.filing import file_cases
from governance.models import (
    Case,
    CaseHistory,
    CheckDue,
    Grid,
    GridCategoryStats,
    GridMember,
    GridStats,
    Shop,
    User,
)
from governance.permissions import system_viewer, viewer_for
from governance.workflow import file_case
from pipelines.ingest import ingest_shops
from tests.test_ingest_shops import GOOD_SHOPS, seed_district

SHOPS = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
KINDS = ["patrol", "service_request", "patrol", "hazard_check"]
CATEGORIES = ["fire_exit", "construction", "gas", "noise", "construction", "sanitation", "electricity"]
SEVERITIES = ["low", "medium", "high", "urgent"]


@pytest.fixture
def district(engine):
    """Four grids, the 20 good shops, stored grid figures, and a leader of the first shop's grid."""
    seed_district(engine)
    ingest_shops(engine, GOOD_SHOPS, now=datetime(2026, 1, 1, tzinfo=UTC))
    with transaction(engine) as session:
        refresh_grid_stats(session)  # every grid has its stored row, so the totals are exercised
        leader = User(username="leader01", display_name="洪清泉", role="grid_leader")
        session.add(leader)
        session.flush()
        grid_id = session.scalar(select(Shop.grid_id).where(Shop.shop_code == SHOPS.iloc[0]["shop_id"]))
        session.add(GridMember(grid_id=grid_id, user_id=leader.id, role="leader", name="洪清泉"))
    return engine


def rows(n: int, *, shops: list[int] | None = None) -> pd.DataFrame:
    """Findings at shops (some naming the shop, some only its point), with varied codes and texts."""
    picks = shops or list(range(len(SHOPS)))
    out = []
    for i in range(n):
        shop = SHOPS.iloc[picks[i % len(picks)]]
        out.append({
            "kind": KINDS[i % len(KINDS)], "category": CATEGORIES[i % len(CATEGORIES)],
            "severity": SEVERITIES[i % len(SEVERITIES)], "title": f"  发现{i}  ",
            "description": "" if i % 3 else f"详情 {i}", "lon": float(shop["lon"]), "lat": float(shop["lat"]),
            "shop_code": shop["shop_id"] if i % 2 == 0 else "",
            "department": "消防" if i % 5 == 0 else "", "requester": "王女士" if i % 4 == 1 else "",
            "created_at": T0 + timedelta(hours=i, seconds=i),
        })
    return pd.DataFrame(out)


def outcome(session) -> dict:
    """Everything filing writes, without ids and with the random part of the case numbers masked."""
    grid_code = dict(session.execute(select(Grid.id, Grid.code)).all())
    shop_code = dict(session.execute(select(Shop.id, Shop.shop_code)).all())
    cases = session.scalars(select(Case).order_by(Case.created_at, Case.title)).all()
    number = re.compile(r"^L\d{8}-[0-9A-F]{8}$")
    assert all(number.match(c.case_no) for c in cases), [c.case_no for c in cases if not number.match(c.case_no)]
    history = {h.case_id: h for h in session.scalars(select(CaseHistory)).all()}
    assert len(history) == len(cases)  # exactly one row per case
    return {
        "cases": [
            (c.case_no[:9], c.kind, c.category, c.severity, c.title, c.description, c.geometry.wkt,
             grid_code[c.grid_id], shop_code.get(c.shop_id), c.reporter_id, c.state, c.outcome, c.created_at,
             c.due_at, c.follow_up_due_at, c.closed_at, c.department, c.requester, c.resolved_at, c.reopen_count,
             c.version)
            for c in cases
        ],
        "history": [
            (history[c.id].seq, history[c.id].at, history[c.id].actor_id, history[c.id].action,
             history[c.id].from_state, history[c.id].to_state,
             re.sub(r"K\d{8}-[0-9A-F]{8}", "K<number>", history[c.id].note), history[c.id].details)
            for c in cases
        ],
        "grid_stats": session.execute(
            select(Grid.code, GridStats.total, GridStats.closed, GridStats.closed_on_time)
            .join(Grid, Grid.id == GridStats.grid_id).order_by(Grid.code)
        ).all(),
        "grid_category_stats": session.execute(
            select(Grid.code, GridCategoryStats.category, GridCategoryStats.total)
            .join(Grid, Grid.id == GridCategoryStats.grid_id).order_by(Grid.code, GridCategoryStats.category)
        ).all(),
        "check_due": session.execute(
            select(Shop.shop_code, CheckDue.category, CheckDue.due_at, CheckDue.applies_until)
            .join(Shop, Shop.id == CheckDue.shop_id).order_by(Shop.shop_code, CheckDue.category)
        ).all(),
    }


def filed_both_ways(engine, batch: pd.DataFrame, username: str | None) -> tuple[dict, dict]:
    """The outcome of file_case row by row, then (after rolling that back) of file_cases."""
    results = []
    for one_by_one in (True, False):
        with session_factory(engine)() as session:
            session.begin()
            viewer = viewer_for(session, username) if username else system_viewer()
            if one_by_one:
                for row in batch.to_dict("records"):
                    file_case(session, viewer, kind=row["kind"], category=row["category"],
                              severity=row["severity"], title=row["title"], description=row["description"],
                              lon=row["lon"], lat=row["lat"], shop_code=row["shop_code"] or None,
                              department=row["department"] or None, requester=row["requester"] or None,
                              now=row["created_at"])
            else:
                filed = file_cases(session, viewer, batch, chunk_size=7)  # several chunks
                assert len(filed) == len(batch)
            session.flush()
            results.append(outcome(session))
            session.rollback()
    return results[0], results[1]


def test_a_batch_files_the_same_cases_history_and_figures_as_file_case(district):
    batch = rows(40)
    single, batched = filed_both_ways(district, batch, None)
    assert batched == single
    assert len(batched["cases"]) == 40
    # The derived data moved: totals per grid, and construction checks due for shops with a construction case.
    assert sum(total for _, total, _, _ in batched["grid_stats"]) == 40
    # ... and per category: each case counted once, under its own category.
    per_category = batch.groupby("category").size()
    counted = pd.Series([t for _, _, t in batched["grid_category_stats"]],
                        index=[str(c) for _, c, _ in batched["grid_category_stats"]]).groupby(level=0).sum()
    assert counted[counted > 0].sort_index().to_dict() == per_category.sort_index().to_dict()
    assert any(category == Category.CONSTRUCTION for _, category, _, _ in batched["check_due"])


def test_a_grid_leader_files_in_their_grid_the_same_way(district):
    batch = rows(9, shops=[0])  # all in the leader's grid
    single, batched = filed_both_ways(district, batch, "leader01")
    assert batched == single
    with transaction(district) as session:
        leader = session.scalar(select(User.id).where(User.username == "leader01"))
    assert {case[9] for case in batched["cases"]} == {leader}  # reporter
    assert {(h[2], h[7]["actor"]) for h in batched["history"]} == {(leader, "leader01")}


def test_the_batch_returns_ids_and_numbers_in_row_order(district):
    batch = rows(12)
    with transaction(district) as session:
        filed = file_cases(session, system_viewer(), batch, chunk_size=5)
        stored = dict(session.execute(select(Case.id, Case.title)).all())
        numbers = dict(session.execute(select(Case.id, Case.case_no)).all())
    assert [stored[i] for i in filed.case_ids] == [t.strip() for t in batch["title"]]
    assert [numbers[i] for i in filed.case_ids] == filed.case_nos


def case_count(engine) -> tuple[int, int]:
    with transaction(engine) as session:
        return (session.scalar(select(func.count()).select_from(Case)),
                session.scalar(select(func.count()).select_from(CaseHistory)))


@pytest.mark.parametrize(("change", "error", "message"), [
    ({"category": "littering"}, ValidationError, r"category='littering' is not known"),
    ({"title": "   "}, ValidationError, r"title is empty"),
    ({"title": "长" * 256}, ValidationError, r"title is 256 characters long"),
    ({"lon": 200.0}, ValidationError, r"lon=200.0 is outside WGS84 range"),
    ({"lon": 100.0}, OutsideGrids, r"lies in no grid: the nearest grid is .* m away"),
    ({"shop_code": "NOPE"}, NotFoundError, r"shop_code='NOPE': no such shop"),
    ({"description": "a\x00b"}, ValidationError, r"description contains a NUL character"),
    ({"created_at": datetime(2026, 6, 1, 8, 0)}, ValidationError, r"has no timezone"),
])
def test_a_refused_row_is_named_and_nothing_is_written(district, change, error, message):
    batch = rows(12)
    for column, value in change.items():
        batch[column] = batch[column].astype(object)
        batch.at[7, column] = value
    with pytest.raises(error, match=message) as raised, transaction(district) as session:
        file_cases(session, system_viewer(), batch, chunk_size=5)
    assert raised.value.position == 7
    assert case_count(district) == (0, 0)


def test_a_grid_leader_may_not_file_outside_their_grid(district):
    with transaction(district) as session:
        own = session.scalar(select(Shop.grid_id).where(Shop.shop_code == SHOPS.iloc[0]["shop_id"]))
        other = next(i for i, code in enumerate(SHOPS["shop_id"])
                     if session.scalar(select(Shop.grid_id).where(Shop.shop_code == code)) != own)
    batch = rows(6, shops=[0, 0, 0, other])
    with pytest.raises(PermissionDenied, match="may only see and act in their own grids") as raised, \
            transaction(district) as session:
        file_cases(session, viewer_for(session, "leader01"), batch)
    assert raised.value.position == 3
    assert case_count(district) == (0, 0)


def test_an_analyst_may_not_file(district):
    with transaction(district) as session:
        session.add(User(username="ana", display_name="分析员", role="analyst"))
    with pytest.raises(PermissionDenied, match="analysts read and export"), transaction(district) as session:
        file_cases(session, viewer_for(session, "ana"), rows(3))
    assert case_count(district) == (0, 0)


# --- hazard checks -------------------------------------------------------------

CHECK_CATEGORIES = ["electricity", "gas", "construction", "electricity"]


def check_rows(n: int) -> pd.DataFrame:
    """Checks of varied shops and categories; every third one fails an item or two."""
    from governance.checklists import checklist_for

    out = []
    for i in range(n):
        category = CHECK_CATEGORIES[i % len(CHECK_CATEGORIES)]
        items = [item.code for item in checklist_for(category)]
        failing = set(items[: 1 + i % 2]) if i % 3 == 0 else set()
        out.append({"shop_code": SHOPS.iloc[i % len(SHOPS)]["shop_id"], "category": category,
                    "answers": {code: code not in failing for code in items},
                    "note": "复查" if i % 4 == 0 else "", "performed_at": T0 + timedelta(hours=i, minutes=i)})
    return pd.DataFrame(out)


def checks_outcome(session) -> dict:
    from governance.models import HazardCheck

    number = re.compile(r"^K\d{8}-[0-9A-F]{8}$")
    checks = session.scalars(select(HazardCheck).order_by(HazardCheck.performed_at, HazardCheck.category)).all()
    assert all(number.match(c.check_no) for c in checks)
    case_no = dict(session.execute(select(Case.id, Case.case_no)).all())
    history_note = dict(session.execute(select(CaseHistory.case_id, CaseHistory.note)).all())
    shop_code = dict(session.execute(select(Shop.id, Shop.shop_code)).all())
    return {
        **outcome(session),
        "checks": [
            (c.check_no[:9], shop_code[c.shop_id], c.category, c.answers, c.passed, c.inspector_id, c.performed_at,
             c.note, case_no[c.case_id][:9] if c.case_id else None,
             # The raised case's history names its check.
             history_note[c.case_id].replace(c.check_no, "<check>") if c.case_id else None)
            for c in checks
        ],
    }


def test_a_batch_of_checks_records_the_same_checks_cases_and_checks_due_as_record_check(district):
    from governance.filing_checks import record_checks
    from governance.workflow import record_check

    batch = check_rows(30)
    results = []
    for one_by_one in (True, False):
        with session_factory(district)() as session:
            session.begin()
            viewer = system_viewer()
            if one_by_one:
                for row in batch.to_dict("records"):
                    record_check(session, viewer, shop_code=row["shop_code"], category=row["category"],
                                 answers=row["answers"], note=row["note"], now=row["performed_at"])
            else:
                recorded = record_checks(session, viewer, batch, chunk_size=4)
                assert len(recorded) == 30 and recorded.failed == 10
            session.flush()
            results.append(checks_outcome(session))
            session.rollback()
    single, batched = results
    assert batched == single
    assert sum(1 for c in batched["checks"] if c[8]) == 10  # a case per failed check
    assert any(category == Category.CONSTRUCTION for _, category, _, _ in batched["check_due"])


def test_a_refused_check_is_named_and_nothing_is_written(district):
    from governance.filing_checks import record_checks

    batch = check_rows(8)
    batch.at[4, "answers"] = {"elec.rcd": True}  # an electricity check
    with pytest.raises(ValidationError, match="answers: unanswered checklist item") as raised, \
            transaction(district) as session:
        record_checks(session, system_viewer(), batch)
    assert raised.value.position == 4
    assert case_count(district) == (0, 0)


def test_a_case_number_that_collides_with_a_stored_one_is_drawn_again(district, monkeypatch):
    """Random suffixes can repeat a stored number (8 hex digits a day); the batch draws again
    instead of failing.  The first draws are forced to collide: chance alone almost never does."""
    import secrets

    from governance import workflow

    draws = iter([b"\x00" * 4, b"\x00" * 4])
    monkeypatch.setattr(workflow.secrets, "token_bytes",
                        lambda n: next(draws, None) or secrets.SystemRandom().randbytes(n))
    batch = rows(1)
    with transaction(district) as session:
        first = file_cases(session, system_viewer(), batch)
    with transaction(district) as session:
        second = file_cases(session, system_viewer(), batch)
    assert first.case_nos[0].endswith("-00000000")
    assert second.case_nos[0] != first.case_nos[0]
