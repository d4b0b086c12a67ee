"""部门接单 (issue 20): a dispatched order waits for its department, which accepts, returns or resolves it.

Dispatch, accept and return are rows of the rules table; the acceptance limit
(LINPU_ACCEPT_LIMIT_HOURS, working hours) raises an early warning when passed;
a department sees its own orders whatever grid they are in, and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from governance import early_warnings, queries
from governance.catalog import CaseState
from governance.db import transaction
from governance.departments import add_department, default_department
from governance.errors import IllegalTransition, NotFoundError, PermissionDenied, ValidationError
from governance.models import Case, CaseHistory
from governance.orders import accept_order, orders_frame, resolve_order, return_order
from governance.permissions import system_viewer
from governance.rules import HistoryRow, check_history
from governance.settings import get_settings
from governance.testing import IN_G001, IN_G002, seed_small_district, seed_team
from governance.workflow import dispatch, file_case, transition

# A Friday, 09:00 in Shanghai: two working hours later is 11:00 the same morning.
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    seed_team(engine)
    names = ("leader1", "supervisor", "admin", "dept1", "dept2", "fire1", "analyst")
    return engine, {name: district.viewer(engine, name) for name in names}


def _request(engine, viewer, point=IN_G001, category="sanitation"):
    with transaction(engine) as session:
        return file_case(session, viewer, kind="service_request", category=category, severity="medium",
                         title="门口堆物", lon=point[0], lat=point[1], now=NOW).id


def _dispatch(engine, viewer, case_id, department="城管中队", version=1, at=NOW):
    with transaction(engine) as session:
        case = dispatch(session, viewer, case_id, department=department, expected_version=version, now=at)
        return case.state, case.version, case.accept_due_at


def _history(engine, case_id):
    with transaction(engine) as session:
        return session.execute(select(CaseHistory.action, CaseHistory.from_state, CaseHistory.to_state,
                                      CaseHistory.note).where(CaseHistory.case_id == case_id)
                               .order_by(CaseHistory.seq)).all()


def test_a_dispatched_order_waits_for_acceptance_then_the_departments_clock_starts(world):
    engine, v = world
    case_id = _request(engine, v["leader1"])
    state, version, accept_due = _dispatch(engine, v["supervisor"], case_id)
    assert state == CaseState.WARNING  # dispatched, not yet taken on
    assert accept_due == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 11:00 Shanghai: two working hours
    later = NOW + timedelta(minutes=30)
    with transaction(engine) as session:
        case = accept_order(session, v["dept1"], case_id, expected_version=version, now=later)
        assert case.state == CaseState.IN_PROGRESS and case.accepted_at == later
        assert case.order_due_at > later and case.due_at < case.order_due_at  # the grid's due time stays
    with transaction(engine) as session:
        resolve_order(session, v["dept1"], case_id, expected_version=version + 1, now=later + timedelta(hours=1))
    rows = _history(engine, case_id)
    assert [r[0] for r in rows] == ["raise", "dispatch", "accept", "resolve"]
    assert rows[1][1:3] == (CaseState.WARNING, CaseState.WARNING)
    assert check_history([HistoryRow(a, f, t) for a, f, t, _ in rows]) is None


def test_a_return_sends_the_order_back_with_its_reason_and_only_its_department_acts(world):
    engine, v = world
    case_id = _request(engine, v["leader1"])
    _, version, _ = _dispatch(engine, v["supervisor"], case_id)
    for other in ("dept2", "leader1", "fire1", "supervisor"):
        with transaction(engine) as session, pytest.raises(PermissionDenied):
            accept_order(session, v[other], case_id, expected_version=version, now=NOW)
    with transaction(engine) as session, pytest.raises(ValidationError, match="reason"):
        return_order(session, v["dept1"], case_id, expected_version=version, reason=" ", now=NOW)
    with transaction(engine) as session:
        case = return_order(session, v["dept1"], case_id, expected_version=version, reason="不属本部门职责", now=NOW)
        assert case.state == CaseState.WARNING and case.department is None
    assert _history(engine, case_id)[-1][0::3] == ("return", "不属本部门职责")
    with transaction(engine) as session, pytest.raises(PermissionDenied):
        accept_order(session, v["dept1"], case_id, expected_version=version + 1, now=NOW)
    with transaction(engine) as session:
        assert orders_frame(session, v["dept1"], now=NOW).empty


def test_an_order_not_accepted_in_time_is_an_early_warning(world):
    engine, v = world
    case_id = _request(engine, v["leader1"])
    _dispatch(engine, v["supervisor"], case_id)
    with transaction(engine) as session:
        before = early_warnings.early_warnings(session, v["supervisor"], now=NOW + timedelta(hours=1))
        after = early_warnings.early_warnings(session, v["supervisor"], now=NOW + timedelta(hours=3))
        orders = orders_frame(session, v["dept1"], now=NOW + timedelta(hours=3))
    assert "order_not_accepted" not in set(before["kind"])
    late = after[after["kind"] == "order_not_accepted"]
    assert list(late["grid_code"]) == ["G001"] and "城管中队" in late["detail"].iloc[0]
    assert list(orders["clock"]) == ["accept_overdue"]


def test_the_acceptance_limit_is_a_setting_in_working_hours(world, monkeypatch):
    engine, v = world
    monkeypatch.setenv("LINPU_ACCEPT_LIMIT_HOURS", "5")
    get_settings.cache_clear()
    try:
        case_id = _request(engine, v["leader1"])
        _, _, accept_due = _dispatch(engine, v["supervisor"], case_id)
    finally:
        get_settings.cache_clear()
    # 09:00 + 3 h to noon, lunch 12:00-14:00 does not count, + 2 h: 16:00 Shanghai.
    assert accept_due == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_a_department_sees_its_orders_in_any_grid_and_no_other_case(world):
    engine, v = world
    mine = [_request(engine, v["supervisor"], point) for point in (IN_G001, IN_G002)]
    other = _request(engine, v["supervisor"])
    for case_id in mine:
        _dispatch(engine, v["supervisor"], case_id)
    _dispatch(engine, v["supervisor"], other, department="街道司法所")
    with transaction(engine) as session:
        orders = orders_frame(session, v["dept1"], now=NOW)
        cases = queries.cases_frame(session, v["dept1"], now=NOW)
        with pytest.raises(PermissionDenied):
            orders_frame(session, v["leader1"], now=NOW)
    assert sorted(orders["grid_code"]) == ["G001", "G002"] and set(orders["clock"]) == {"awaiting"}
    assert cases.empty
    with transaction(engine) as session, pytest.raises(PermissionDenied, match="department"):
        transition(session, v["dept1"], mine[0], "take_on", expected_version=2, now=NOW)


def test_dispatch_names_a_known_department_and_automatic_dispatch_needs_auto(world):
    engine, v = world
    case_id = _request(engine, v["leader1"])
    with transaction(engine) as session, pytest.raises(NotFoundError, match="城管中队"):
        dispatch(session, v["supervisor"], case_id, department="不存在的部门", expected_version=1, now=NOW)
    legal = _request(engine, v["leader1"], category="legal_advice")
    with transaction(engine) as session:
        assert session.get(Case, legal).department is None  # a default is prefilled, not dispatched
        assert default_department(session, "legal_advice") == "街道司法所"
        assert default_department(session, "jobs") == "街道劳动保障所"  # the practice's default
        add_department(session, system_viewer(), "街道司法所", auto_for=("legal_advice",))
    auto = _request(engine, v["leader1"], category="legal_advice")
    with transaction(engine) as session:
        case = session.get(Case, auto)
        assert (case.state, case.department, case.version) == (CaseState.WARNING, "街道司法所", 2)
    with transaction(engine) as session:
        assert list(orders_frame(session, v["dept2"], now=NOW)["case_id"]) == [auto]
    with transaction(engine) as session, pytest.raises(ValidationError, match="service"):
        file_case(session, v["leader1"], kind="patrol", category="jobs", severity="low", title="x",
                  lon=IN_G001[0], lat=IN_G001[1], now=NOW)


def test_an_accepted_order_cannot_be_returned(world):
    engine, v = world
    case_id = _request(engine, v["leader1"])
    _dispatch(engine, v["supervisor"], case_id)
    with transaction(engine) as session:
        accept_order(session, v["dept1"], case_id, expected_version=2, now=NOW)
    with transaction(engine) as session, pytest.raises(IllegalTransition):
        return_order(session, v["dept1"], case_id, expected_version=3, reason="晚了", now=NOW)
