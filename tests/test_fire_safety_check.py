"""The fire-safety check (issue 20): a routine check of every open shop, and a fire member records it.

The checklist (stable ``fire.*`` codes, both languages, severities) is stored
as the category ``fire_exit``, now shown as 消防安全 / Fire safety; it falls
due every 90 days, in a new database and (migration 0017) in an existing one.
A member records the checks of its kind in its grids only, refused otherwise
in the governance layer, and the page says the refusal in its language.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from dashboard.i18n import translate
from dashboard.widgets import outside_duty_text
from governance.catalog import (
    CHECK_CATEGORIES,
    MEMBER_CHECK_CATEGORIES,
    Category,
    MemberRole,
    Severity,
    Trade,
)
from governance.check_due import checks_due, refresh_check_due
from governance.checklists import categories_for_trade, checklist_for
from governance.db import transaction
from governance.errors import OutsideDuty, PermissionDenied
from governance.filing_checks import record_checks
from governance.migrate import downgrade, upgrade
from governance.models import Case, CaseHistory, CheckDue, CheckSchedule, HazardCheck, User
from governance.schedules import default_schedules, schedules_frame, seed_defaults
from governance.sla import due_time
from governance.testing import seed_small_district, seed_team
from governance.words import file_words
from governance.workflow import record_check
from governance.working_time import working_calendar

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # Friday 09:00 Shanghai
FIRE_CODES = ("fire.exits_clear", "fire.extinguishers", "fire.emergency_lighting", "fire.no_combustibles",
              "fire.no_sleeping", "fire.smoke_detector")
ALL_OK = dict.fromkeys(FIRE_CODES, True)


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    seed_team(engine)
    names = ("leader1", "fire1", "prop1", "sec2")
    return engine, district, {name: district.viewer(engine, name) for name in names}


def _count_checks(engine) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(HazardCheck))


def test_the_checklist_has_stable_codes_both_languages_and_severities():
    items = checklist_for("fire_exit")
    assert tuple(i.code for i in items) == FIRE_CODES
    assert all(i.zh and i.en and i.zh != i.en for i in items)
    severity = {i.code: i.severity for i in items}
    # A locked exit and people sleeping in the shop (三合一) are the urgent ones.
    assert severity["fire.exits_clear"] is severity["fire.no_sleeping"] is Severity.URGENT
    assert severity["fire.extinguishers"] is Severity.MEDIUM
    assert Category.FIRE_EXIT in CHECK_CATEGORIES
    # Every shop gets it, whatever its trade (or none).
    assert all(Category.FIRE_EXIT in categories_for_trade(t) for t in (*Trade, None))
    # Shown as fire safety; files written with the old word 消防通道 still read as the category.
    assert (translate("category.fire_exit", "zh"), translate("category.fire_exit", "en")) == ("消防安全", "Fire safety")
    words = file_words("category")
    assert words["消防通道"] == words["消防安全"] == words["fire safety"] == "fire_exit"


def test_member_kinds_record_their_own_checks():
    assert MEMBER_CHECK_CATEGORIES == {
        MemberRole.FIRE: (Category.ELECTRICITY, Category.GAS, Category.FIRE_EXIT),
        MemberRole.PROPERTY: (Category.CONSTRUCTION, Category.AMUSEMENT_RIDE),
        MemberRole.SECURITY: (),
    }


def test_every_open_shop_has_a_fire_safety_check_due_every_90_days(world):
    engine, district, v = world
    assert ("fire_exit", None, 90) in default_schedules()
    with transaction(engine) as session:
        seed_defaults(session)
        frame = schedules_frame(session).set_index("category")
        assert frame.loc["fire_exit", "days"] == 90 and bool(frame.loc["fire_exit", "stored"])
        due = checks_due(session, v["leader1"], now=NOW)
        fire = due[due["category"] == "fire_exit"]
        # Never checked: due from the shop's opening a year ago, so overdue.
        assert fire["shop_code"].tolist() == [district.shop_codes["G001"]] and bool(fire["overdue"].iloc[0])
        record_check(session, v["leader1"], shop_code=district.shop_codes["G001"], category="fire_exit",
                     answers=ALL_OK, now=NOW - timedelta(days=10))
        fire = checks_due(session, v["leader1"], now=NOW).query("category == 'fire_exit'").iloc[0]
        assert fire["due_at"] == pd.Timestamp(NOW + timedelta(days=80)) and not fire["overdue"]


def test_a_failed_item_raises_a_case_at_the_worst_severity(world):
    engine, district, v = world
    answers = {**ALL_OK, "fire.extinguishers": False, "fire.exits_clear": False}
    with transaction(engine) as session:
        check, case = record_check(session, v["leader1"], shop_code=district.shop_codes["G001"],
                                   category="fire_exit", answers=answers, note="后门上锁", now=NOW)
        assert not check.passed and check.case_id == case.id
        assert (str(case.kind), str(case.category), str(case.severity)) == ("hazard_check", "fire_exit", "urgent")
        assert case.grid_id == district.grid_ids["G001"] and str(case.state) == "warning"
        assert case.title == "未通过：安全出口、疏散通道畅通，未锁闭、未堵塞；按规定配置灭火器，压力正常且在有效期内"
        assert case.description.splitlines() == [
            "fire.exits_clear: Exits and evacuation routes clear, not locked or blocked",
            "fire.extinguishers: Fire extinguishers present, charged and in date", "后门上锁"]
        assert case.due_at == due_time(NOW, Category.FIRE_EXIT, Severity.URGENT, calendar=working_calendar(session))


def test_a_fire_member_records_a_fire_safety_check_in_its_grid(world):
    engine, district, v = world
    shop = district.shop_codes["G001"]
    with transaction(engine) as session:
        passed, none = record_check(session, v["fire1"], shop_code=shop, category="fire_exit", answers=ALL_OK,
                                    now=NOW - timedelta(days=1))
        failed, case = record_check(session, v["fire1"], shop_code=shop, category="fire_exit",
                                    answers={**ALL_OK, "fire.smoke_detector": False}, now=NOW)
        fire1 = session.scalar(select(User.id).where(User.username == "fire1"))
        assert none is None and passed.inspector_id == failed.inspector_id == fire1
        assert str(case.severity) == "medium" and case.grid_id == district.grid_ids["G001"]
        raised = session.scalar(select(CaseHistory).where(CaseHistory.case_id == case.id))
        assert raised.actor_id == fire1 and raised.action == "raise"
        due = session.scalar(select(CheckDue.due_at).join(HazardCheck, HazardCheck.shop_id == CheckDue.shop_id)
                             .where(HazardCheck.id == failed.id, CheckDue.category == "fire_exit"))
        assert due == NOW + timedelta(days=90)
        # Its kind's other checks too: gas, at a catering shop.
        record_check(session, v["fire1"], shop_code=shop, category="gas", now=NOW, answers={
            i.code: True for i in checklist_for("gas")})


@pytest.mark.parametrize(("member", "grid", "category", "refusal"), [
    ("fire1", "G001", "construction", OutsideDuty),  # property's check, in its own grid
    ("fire1", "G002", "fire_exit", PermissionDenied),  # its check, in another grid
    ("prop1", "G001", "fire_exit", OutsideDuty),
    ("sec2", "G002", "electricity", OutsideDuty),  # security records no routine check
])
def test_a_member_is_refused_another_kinds_check_or_another_grids_shop(world, member, grid, category, refusal):
    engine, district, v = world
    before = _count_checks(engine)
    answers = {i.code: False for i in checklist_for(category)}  # would raise a case if it went through
    with pytest.raises(refusal) as raised, transaction(engine) as session:
        record_check(session, v[member], shop_code=district.shop_codes[grid], category=category, answers=answers,
                     now=NOW)
    assert _count_checks(engine) == before
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
    if refusal is OutsideDuty:
        assert category in str(raised.value) and raised.value.category == category
    else:
        assert not isinstance(raised.value, OutsideDuty)


def test_the_refusal_is_said_in_the_pages_language(world):
    engine, district, v = world
    with pytest.raises(OutsideDuty) as raised, transaction(engine) as session:
        record_check(session, v["fire1"], shop_code=district.shop_codes["G001"], category="construction",
                     answers={i.code: True for i in checklist_for("construction")}, now=NOW)
    assert outside_duty_text(raised.value, "zh") == "您是消防成员，只能记录用电、用气、消防安全检查；装修施工检查不在您的职责内。"
    assert outside_duty_text(raised.value, "en") == (
        "As a Fire safety member you record Electricity, Gas, Fire safety checks only; Renovation checks are not yours.")
    with pytest.raises(OutsideDuty) as raised, transaction(engine) as session:
        record_check(session, v["sec2"], shop_code=district.shop_codes["G002"], category="electricity",
                     answers={i.code: True for i in checklist_for("electricity")}, now=NOW)
    assert "无例行检查" in outside_duty_text(raised.value, "zh")


def test_a_batch_of_checks_by_a_member_is_refused_whole_at_the_row_of_another_kind(world):
    engine, district, v = world
    rows = pd.DataFrame({
        "shop_code": [district.shop_codes["G001"]] * 2, "category": ["fire_exit", "amusement_ride"],
        "answers": [ALL_OK, {i.code: True for i in checklist_for("amusement_ride")}], "performed_at": [NOW, NOW],
    })
    with pytest.raises(PermissionDenied) as raised, transaction(engine) as session:
        record_checks(session, v["fire1"], rows)
    assert raised.value.position == 1 and "amusement_ride" in str(raised.value)
    assert _count_checks(engine) == 0


def test_the_migration_schedules_fire_safety_and_fills_its_checks_due_in_an_existing_database(empty_engine):
    engine = empty_engine
    upgrade(engine, "0014")
    district = seed_small_district(engine, now=NOW)
    with transaction(engine) as session:
        # As the database stood before: the four checks scheduled (one changed), none of fire safety kept.
        session.add_all(CheckSchedule(category=c, trade=None, interval_days=60 if c == "electricity" else d)
                        for c, _, d in default_schedules() if c != "fire_exit")
        refresh_check_due(session)
        session.execute(delete(CheckDue).where(CheckDue.category == "fire_exit"))
    upgrade(engine)
    with transaction(engine) as session:
        stored = {str(c): d for c, d in session.execute(
            select(CheckSchedule.category, CheckSchedule.interval_days))}
        assert stored == {"electricity": 60, "gas": 30, "construction": 14, "amusement_ride": 30, "fire_exit": 90}
        kept = sorted((s, str(c), d, g) for s, c, d, g in session.execute(
            select(CheckDue.shop_id, CheckDue.category, CheckDue.due_at, CheckDue.grid_id)))
        fire = [row for row in kept if row[1] == "fire_exit"]
        assert len(fire) == len(district.shop_codes)
        assert {row[2] for row in fire} == {NOW - timedelta(days=365) + timedelta(days=90)}
        # What the migration wrote is what a full recompute writes.
        refresh_check_due(session)
        assert sorted((s, str(c), d, g) for s, c, d, g in session.execute(
            select(CheckDue.shop_id, CheckDue.category, CheckDue.due_at, CheckDue.grid_id))) == kept
    downgrade(engine, "0014")
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(CheckDue).where(CheckDue.category == "fire_exit")) == 0
        assert "fire_exit" not in {str(c) for c in session.scalars(select(CheckSchedule.category))}
