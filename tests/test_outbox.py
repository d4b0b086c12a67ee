"""The outbox: notices written with the change, one summary per grid for a batch, clock events once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update

from governance.catalog import Category
from governance.db import transaction
from governance.departments import add_department
from governance.filing import file_cases
from governance.models import CheckDue, Notification
from governance.outbox_clock import local_day, write_clock_events, write_digests
from governance.permissions import system_viewer
from governance.settings import get_settings
from governance.testing import IN_G001, IN_G002, seed_small_district
from governance.workflow import dispatch, file_case, rate_case, transition

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Quanzhou


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    viewers = {name: district.viewer(engine, name) for name in ("leader1", "supervisor")}
    return engine, district, viewers


def _notes(engine, event=None):
    with transaction(engine) as session:
        query = select(Notification).order_by(Notification.id)
        if event:
            query = query.where(Notification.event == event)
        return session.scalars(query).all()


def _file(engine, viewer, *, point=IN_G001, kind="patrol", category="gas", severity="high", at=NOW):
    with transaction(engine) as session:
        return file_case(session, viewer, kind=kind, category=category, severity=severity, title="液化气瓶倒放",
                         lon=point[0], lat=point[1], now=at).id


def test_each_step_someone_must_act_on_writes_one_notice_with_the_change(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    [raised] = _notes(engine)
    assert (raised.event, raised.case_id, raised.grid_codes) == ("case_raised", case_id, ["G001"])
    assert set(raised.audience) >= {"grid_leader", "member"} and raised.member_kinds == ["fire"]
    with transaction(engine) as session:
        add_department(session, system_viewer(), "街道安监办")
        dispatch(session, v["supervisor"], case_id, department="街道安监办", expected_version=1, now=NOW)
    with transaction(engine) as session:
        transition(session, v["leader1"], case_id, "take_on", expected_version=2, now=NOW)
        transition(session, v["leader1"], case_id, "resolve", expected_version=3, now=NOW)
    with transaction(engine) as session:
        transition(session, v["leader1"], case_id, "reopen", expected_version=4, note="仍未整改", now=NOW)
    events = [(n.event, n.data.get("department")) for n in _notes(engine)]
    assert events == [("case_raised", None), ("case_dispatched", "街道安监办"), ("case_reopened", "街道安监办")]
    assert "department" in _notes(engine, "case_dispatched")[0].audience


def test_a_rolled_back_change_leaves_no_notice(world):
    engine, _, v = world
    with pytest.raises(RuntimeError), transaction(engine) as session:
        file_case(session, v["leader1"], kind="patrol", category="gas", severity="high", title="t",
                  lon=IN_G001[0], lat=IN_G001[1], now=NOW)
        raise RuntimeError("the request failed after the step")
    assert _notes(engine) == []


def test_a_poor_rating_is_announced_once_and_a_good_one_not_at_all(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"], kind="service_request", category="noise", severity="low")
    for action, version in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
        with transaction(engine) as session:
            transition(session, v["leader1"], case_id, action, expected_version=version, now=NOW)
    with transaction(engine) as session:
        rate_case(session, case_id=case_id, rating=1, comment="噪音照旧", now=NOW)
    [poor] = _notes(engine, "rated_poorly")
    assert poor.data["rating"] == 1 and poor.data["reopened"] is True and "supervisor" in poor.audience
    assert _notes(engine, "case_reopened") == []  # the reopen by a rating is the rating's one notice
    for action, version in (("resolve", 5), ("confirm", 6)):
        with transaction(engine) as session:
            transition(session, v["leader1"], case_id, action, expected_version=version, now=NOW)
    with transaction(engine) as session:
        rate_case(session, case_id=case_id, rating=5, now=NOW)
    assert len(_notes(engine, "rated_poorly")) == 1


def test_a_batch_import_writes_one_summary_per_grid_not_one_per_case(world):
    engine, _, v = world
    points = [IN_G001] * 3 + [IN_G002] * 2
    rows = pd.DataFrame({
        "kind": "patrol", "category": "noise", "severity": "low", "title": [f"噪音 {i}" for i in range(5)],
        "lon": [p[0] for p in points], "lat": [p[1] for p in points], "created_at": [NOW] * 5,
    })
    with transaction(engine) as session:
        file_cases(session, v["supervisor"], rows)
    notes = _notes(engine)
    assert [(n.event, n.grid_codes, n.data["count"]) for n in notes] == [
        ("cases_imported", ["G001"], 3), ("cases_imported", ["G002"], 2)]


def test_clock_events_are_written_once_per_case_and_event(world, monkeypatch):
    engine, district, v = world
    # In calendar hours so "due 4 h after filing" holds whatever the working-time calendar says.
    monkeypatch.setenv("LINPU_CATEGORY_LIMIT_UNITS", '{"noise": "calendar_hours"}')
    get_settings.cache_clear()
    try:
        case_id = _file(engine, v["leader1"], category="noise", severity="urgent")  # due 4 h after filing
    finally:
        get_settings.cache_clear()
    soon, late = NOW + timedelta(hours=1), NOW + timedelta(hours=5)
    for _ in range(2):
        with transaction(engine) as session:
            write_clock_events(session, soon, due_soon=timedelta(hours=4))
    assert [(n.case_id, n.event) for n in _notes(engine) if n.event != "case_raised"] == [(case_id, "due_soon")]
    for _ in range(2):
        with transaction(engine) as session:
            write_clock_events(session, late, due_soon=timedelta(hours=4))
    assert len(_notes(engine, "overdue")) == 1 and len(_notes(engine, "due_soon")) == 1
    assert set(_notes(engine, "overdue")[0].audience) >= {"grid_leader", "supervisor"}


def test_a_check_due_tomorrow_is_announced_once_to_its_grid(world):
    engine, district, v = world
    _, tomorrow = local_day(NOW)
    with transaction(engine) as session:
        session.execute(update(CheckDue).values(due_at=NOW - timedelta(days=30)))
        session.execute(update(CheckDue).where(CheckDue.category == Category.ELECTRICITY,
                                               CheckDue.grid_id == district.grid_ids["G002"])
                        .values(due_at=tomorrow + timedelta(hours=10)))
    for _ in range(2):
        with transaction(engine) as session:
            write_clock_events(session, NOW, due_soon=timedelta(hours=4))
    notes = _notes(engine, "check_due_tomorrow")
    assert [(n.grid_codes, n.data["category"], n.member_kinds) for n in notes] == [(["G002"], "electricity", ["fire"])]


def test_each_leader_gets_one_digest_a_day_from_the_digest_hour(world):
    engine, _, v = world
    _file(engine, v["leader1"], category="noise", severity="urgent")  # due 13:00 local today
    _file(engine, v["leader1"], category="noise", severity="urgent", at=NOW - timedelta(days=1))  # overdue
    with transaction(engine) as session:
        write_digests(session, NOW - timedelta(hours=2), digest_hour=8)  # 07:00 local: too early
    assert _notes(engine, "daily_digest") == []
    for _ in range(2):
        with transaction(engine) as session:
            write_digests(session, NOW, digest_hour=8)
    digests = {n.data["leader"]: n for n in _notes(engine, "daily_digest")}
    assert set(digests) == {"Leader1", "Leader2"}
    assert digests["Leader1"].data["grids"] == [{"grid_code": "G001", "open": 2, "due_today": 1, "overdue": 1}]
    assert digests["Leader2"].data["grids"] == [{"grid_code": "G002", "open": 0, "due_today": 0, "overdue": 0}]
    with transaction(engine) as session:
        write_digests(session, NOW + timedelta(days=1), digest_hour=8)
    assert len(_notes(engine, "daily_digest")) == 4
    assert _notes(engine, "daily_digest")[0].key != _notes(engine, "daily_digest")[2].key
