"""The closed loop on SQLite and PostGIS: every transition, rights, versions, races, bad input."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from governance.catalog import CaseState, Outcome
from governance.db import transaction
from governance.departments import add_department
from governance.errors import (
    AttachmentError,
    IllegalTransition,
    NotFoundError,
    OutsideGrids,
    PermissionDenied,
    ValidationError,
    VersionConflict,
)
from governance.filing import file_cases
from governance.filing_checks import record_checks
from governance.models import Attachment, Case, CaseHistory, HazardCheck, Rating
from governance.permissions import system_viewer
from governance.rules import REQUESTER, RULES, SUPERVISING, HistoryRow, check_history
from governance.testing import IN_G001, IN_G002, OUTSIDE, seed_small_district
from governance.workflow import (
    ACTION_ORDER,
    allowed_actions,
    dispatch,
    file_case,
    rate_case,
    record_check,
    transition,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
#: A real 1×1 PNG: stored photos are read with Pillow (governance.attachments).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
       b"\x0cIDATx\x9cc8!'\x07\x00\x02\xb6\x01\x054\xa6u\xaa\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    viewers = {name: district.viewer(engine, name) for name in ("leader1", "leader2", "supervisor", "analyst", "admin")}
    return engine, district, viewers


def _file(engine, viewer, *, point=IN_G001, category="gas", severity="high", kind="patrol", **kw):
    with transaction(engine) as session:
        case = file_case(session, viewer, kind=kind, category=category, severity=severity, title="液化气瓶倒放",
                         lon=point[0], lat=point[1], now=NOW, **kw)
        return case.id


def _act(engine, viewer, case_id, action, version, *, at=NOW, **kw):
    with transaction(engine) as session:
        case = transition(session, viewer, case_id, action, expected_version=version, now=at, **kw)
        return case.state, case.version


def _case(engine, case_id) -> Case:
    with transaction(engine) as session:
        return session.get(Case, case_id)


def _history(engine, case_id):
    with transaction(engine) as session:
        return session.execute(
            select(CaseHistory.seq, CaseHistory.action, CaseHistory.from_state, CaseHistory.to_state)
            .where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq)
        ).all()


def _count(engine, model) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_full_loop_writes_one_history_row_per_step_and_sets_deadlines(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    case = _case(engine, case_id)
    assert case.state == CaseState.WARNING and case.version == 1
    assert case.due_at - case.created_at == timedelta(hours=24)  # gas, high
    assert _act(engine, v["leader1"], case_id, "take_on", 1, at=NOW + timedelta(hours=1)) == (CaseState.IN_PROGRESS, 2)
    resolved_at = NOW + timedelta(hours=5)
    assert _act(engine, v["leader1"], case_id, "resolve", 2, at=resolved_at) == (CaseState.FOLLOW_UP, 3)
    assert _case(engine, case_id).follow_up_due_at == resolved_at + timedelta(hours=72)
    assert _act(engine, v["leader1"], case_id, "confirm", 3, at=NOW + timedelta(days=1)) == (CaseState.CLOSED, 4)
    closed = _case(engine, case_id)
    assert closed.outcome == Outcome.FIXED and closed.closed_at == NOW + timedelta(days=1)
    assert _history(engine, case_id) == [
        (1, "raise", None, CaseState.WARNING),
        (2, "take_on", CaseState.WARNING, CaseState.IN_PROGRESS),
        (3, "resolve", CaseState.IN_PROGRESS, CaseState.FOLLOW_UP),
        (4, "confirm", CaseState.FOLLOW_UP, CaseState.CLOSED),
    ]


def test_reopen_from_follow_up_is_visible_and_gives_the_rework_a_deadline(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    _act(engine, v["leader1"], case_id, "take_on", 1)
    _act(engine, v["leader1"], case_id, "resolve", 2)
    later = NOW + timedelta(days=2)
    assert _act(engine, v["leader1"], case_id, "reopen", 3, at=later, note="回访发现仍未整改") == (
        CaseState.IN_PROGRESS, 4)
    case = _case(engine, case_id)
    assert case.reopen_count == 1 and case.follow_up_due_at is None
    assert case.due_at == later + timedelta(hours=24)
    assert _history(engine, case_id)[-1] == (4, "reopen", CaseState.FOLLOW_UP, CaseState.IN_PROGRESS)


@pytest.mark.parametrize(
    ("action", "outcome", "expected"),
    [
        ("dismiss", None, Outcome.NO_ACTION_NEEDED),
        ("dismiss", "duplicate", Outcome.DUPLICATE),
        ("close_not_responsible", None, Outcome.NOT_RESPONSIBLE),
    ],
)
def test_supervisor_closes_without_fixing_and_the_outcome_says_so(world, action, outcome, expected):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    assert _act(engine, v["supervisor"], case_id, action, 1, outcome=outcome) == (CaseState.CLOSED, 2)
    case = _case(engine, case_id)
    assert case.outcome == expected
    with transaction(engine) as session:
        row = session.scalars(select(CaseHistory).where(CaseHistory.case_id == case_id, CaseHistory.seq == 2)).one()
        assert row.details["actor"] == "supervisor" and row.details["outcome"] == expected.value


def test_close_not_responsible_also_from_in_progress(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    _act(engine, v["leader1"], case_id, "take_on", 1)
    assert _act(engine, v["admin"], case_id, "close_not_responsible", 2) == (CaseState.CLOSED, 3)


def _case_in(engine, v, state: CaseState) -> int:
    case_id = _file(engine, v["leader1"])
    steps = {
        CaseState.WARNING: [],
        CaseState.IN_PROGRESS: ["take_on"],
        CaseState.FOLLOW_UP: ["take_on", "resolve"],
        CaseState.CLOSED: ["take_on", "resolve", "confirm"],
    }[state]
    for version, action in enumerate(steps, start=1):
        _act(engine, v["leader1"], case_id, action, version)
    return case_id


LEGAL = {
    CaseState.WARNING: {"take_on", "dismiss", "close_not_responsible"},
    CaseState.IN_PROGRESS: {"resolve", "close_not_responsible"},
    CaseState.FOLLOW_UP: {"confirm", "reopen"},
    CaseState.CLOSED: set(),
}


@pytest.mark.parametrize("state", list(CaseState))
def test_every_illegal_transition_names_the_state_and_the_allowed_actions(world, state):
    engine, _, v = world
    case_id = _case_in(engine, v, state)
    case = _case(engine, case_id)
    assert set(allowed_actions(v["admin"], case)) == LEGAL[state]
    for action in sorted(set(ACTION_ORDER) - LEGAL[state]):
        with pytest.raises(IllegalTransition) as info:
            _act(engine, v["admin"], case_id, action, case.version)
        message = str(info.value)
        assert f"is {state.value}" in message
        assert "allowed now: " + (", ".join(a for a in ACTION_ORDER if a in LEGAL[state]) or "none") in message
    assert _case(engine, case_id).version == case.version  # nothing changed
    assert len(_history(engine, case_id)) == case.version


def test_grid_leader_may_not_dismiss_or_close_as_not_responsible(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    assert allowed_actions(v["leader1"], _case(engine, case_id)) == ["take_on"]
    for action in ("dismiss", "close_not_responsible"):
        with pytest.raises(PermissionDenied, match="only a supervisor"):
            _act(engine, v["leader1"], case_id, action, 1)
    assert _case(engine, case_id).state == CaseState.WARNING


def test_grid_leader_cannot_file_or_act_in_another_grid(world):
    engine, _, v = world
    with pytest.raises(PermissionDenied, match="own grids"):
        _file(engine, v["leader1"], point=IN_G002)
    other = _file(engine, v["leader2"], point=IN_G002)
    with pytest.raises(PermissionDenied):
        _act(engine, v["leader1"], other, "take_on", 1)
    assert allowed_actions(v["leader1"], _case(engine, other)) == []
    assert _case(engine, other).version == 1
    assert _count(engine, Case) == 1


def test_analyst_reads_but_changes_nothing(world):
    engine, _, v = world
    with pytest.raises(PermissionDenied, match="analyst"):
        _file(engine, v["analyst"])
    case_id = _file(engine, v["leader1"])
    with pytest.raises(PermissionDenied):
        _act(engine, v["analyst"], case_id, "take_on", 1)
    assert allowed_actions(v["analyst"], _case(engine, case_id)) == []


def test_stale_version_is_a_conflict_and_changes_nothing(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    _act(engine, v["leader1"], case_id, "take_on", 1)
    with pytest.raises(VersionConflict, match="someone else changed it; reload"):
        _act(engine, v["supervisor"], case_id, "close_not_responsible", 1)
    assert _case(engine, case_id).state == CaseState.IN_PROGRESS
    assert len(_history(engine, case_id)) == 2


def test_dispatch_hands_a_request_to_a_department(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"], kind="service_request", category="sanitation", severity="low",
                    requester="王女士")
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        dispatch(session, v["leader1"], case_id, department="城管中队", expected_version=1, now=NOW)
    with pytest.raises(ValidationError, match="department is empty"), transaction(engine) as session:
        dispatch(session, v["supervisor"], case_id, department=" ", expected_version=1, now=NOW)
    with pytest.raises(NotFoundError, match="no department named '城管中队'"), transaction(engine) as session:
        dispatch(session, v["supervisor"], case_id, department="城管中队", expected_version=1, now=NOW)
    with transaction(engine) as session:
        add_department(session, system_viewer(), "城管中队")
    with transaction(engine) as session:
        case = dispatch(session, v["supervisor"], case_id, department="城管中队", expected_version=1, now=NOW)
        # The order waits for the department's acceptance (tests/test_orders.py): still a warning.
        assert (case.state, case.department, case.version) == (CaseState.WARNING, "城管中队", 2)
    assert _history(engine, case_id)[-1][1] == "dispatch"


def _closed_request(engine, v) -> int:
    case_id = _file(engine, v["leader1"], kind="service_request", category="noise", severity="low")
    for version, action in enumerate(["take_on", "resolve", "confirm"], start=1):
        _act(engine, v["leader1"], case_id, action, version)
    return case_id


def test_poor_rating_reopens_a_closed_request_and_the_history_says_so(world):
    engine, _, v = world
    case_id = _closed_request(engine, v)
    with transaction(engine) as session:
        rate_case(session, case_id=case_id, rating=2, comment="噪音依旧", rated_by="王女士", now=NOW)
    case = _case(engine, case_id)
    assert case.state == CaseState.IN_PROGRESS and case.outcome is None and case.reopen_count == 1
    with transaction(engine) as session:
        last = session.scalars(select(CaseHistory).where(CaseHistory.case_id == case_id)
                               .order_by(CaseHistory.seq.desc())).first()
        assert (last.action, last.from_state, last.to_state) == ("reopen", CaseState.CLOSED, CaseState.IN_PROGRESS)
        assert "poor rating (2/5)" in last.note and "噪音依旧" in last.note


def test_good_rating_keeps_the_request_closed(world):
    engine, _, v = world
    case_id = _closed_request(engine, v)
    with transaction(engine) as session:
        rate_case(session, case_id=case_id, rating=5, now=NOW)
    assert _case(engine, case_id).state == CaseState.CLOSED
    assert _count(engine, Rating) == 1


@pytest.mark.parametrize("rating", [0, 6, -1, 2.5, "5", True])
def test_rating_outside_one_to_five_is_refused(world, rating):
    engine, _, v = world
    case_id = _closed_request(engine, v)
    with pytest.raises(ValidationError, match="from 1 .* to 5"), transaction(engine) as session:
        rate_case(session, case_id=case_id, rating=rating, now=NOW)
    assert _count(engine, Rating) == 0


def test_bad_input_gets_a_message_and_leaves_the_database_unchanged(world):
    engine, _, v = world
    with pytest.raises(ValidationError, match=r"category='bridge' is not known; allowed: electricity, gas"):
        _file(engine, v["leader1"], category="bridge")
    with pytest.raises(ValidationError, match=r"severity='extreme' is not known; allowed: low, medium, high, urgent"):
        _file(engine, v["leader1"], severity="extreme")
    with pytest.raises(OutsideGrids, match=r"nearest grid is 3,\d{3} m away"):
        _file(engine, v["leader1"], point=OUTSIDE)
    with pytest.raises(ValidationError, match="lat=95"):
        _file(engine, v["leader1"], point=(118.9, 95))
    with pytest.raises(NotFoundError, match="S-NOPE"):
        _file(engine, v["leader1"], shop_code="S-NOPE")
    assert _count(engine, Case) == 0 and _count(engine, CaseHistory) == 0


def test_attachments_are_checked_and_stored_by_content_hash(world, tmp_path, monkeypatch):
    engine, _, v = world
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LINPU_MAX_ATTACHMENT_MB", "0.001")  # about 1 KB
    from governance.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(AttachmentError, match="not a photo; JPEG, PNG and WebP"):
            _file(engine, v["leader1"], attachments=[("x.png", "image/png", b"<html>not a photo</html>")])
        with pytest.raises(AttachmentError, match="too large; at most 0.001 MB"):
            _file(engine, v["leader1"], attachments=[("big.png", "image/png", PNG + b"\x00" * 4096)])
        assert _count(engine, Case) == 0 and _count(engine, Attachment) == 0
        case_id = _file(engine, v["leader1"], attachments=[("a.png", "image/png", PNG), ("b.png", "", PNG)])
        with transaction(engine) as session:
            rows = session.scalars(select(Attachment).where(Attachment.case_id == case_id)).all()
            from governance.attachments import attachment_path

            assert {r.content_type for r in rows} == {"image/png"} and len(rows) == 2
            assert attachment_path(rows[0]).read_bytes() == PNG
            assert rows[0].history_id is not None
    finally:
        get_settings.cache_clear()


def test_configured_limits_set_the_due_time(world, monkeypatch):
    engine, _, v = world
    from governance.settings import get_settings

    monkeypatch.setenv("LINPU_RESOLVE_LIMIT_HOURS", '{"low": 10}')
    monkeypatch.setenv("LINPU_CATEGORY_LIMIT_HOURS", '{"noise": 5}')
    # In calendar hours so the override shows as it is (working time: tests/test_working_time.py).
    monkeypatch.setenv("LINPU_CATEGORY_LIMIT_UNITS", '{"noise": "calendar_hours", "fumes": "calendar_hours"}')
    get_settings.cache_clear()
    try:
        noise = _case(engine, _file(engine, v["leader1"], category="noise", severity="low"))
        fumes = _case(engine, _file(engine, v["leader1"], category="fumes", severity="low"))
    finally:
        get_settings.cache_clear()
    assert noise.due_at - noise.created_at == timedelta(hours=5)
    assert fumes.due_at - fumes.created_at == timedelta(hours=10)


def test_failed_check_raises_a_case_with_the_worst_failed_severity(world):
    engine, district, v = world
    shop = district.shop_codes["G001"]  # catering: gas applies
    answers = {"gas.alarm": True, "gas.hose": False, "gas.regulator": True, "gas.extinguisher": True,
               "gas.cylinder_storage": False, "gas.shutoff_valve": True}
    with transaction(engine) as session:
        check, case = record_check(session, v["leader1"], shop_code=shop, category="gas", answers=answers, now=NOW)
        assert not check.passed and case is not None
        assert (case.kind, case.severity, case.shop_id, case.state) == ("hazard_check", "urgent", check.shop_id, "warning")
        assert check.case_id == case.id
    with transaction(engine) as session:
        check, case = record_check(session, v["leader1"], shop_code=shop, category="gas",
                                   answers=dict.fromkeys(answers, True), now=NOW)
        assert check.passed and case is None
    with pytest.raises(ValidationError, match="unanswered checklist item"), transaction(engine) as session:
        record_check(session, v["leader1"], shop_code=shop, category="gas", answers={"gas.alarm": True}, now=NOW)
    with pytest.raises(ValidationError, match="has no checklist"), transaction(engine) as session:
        record_check(session, v["leader1"], shop_code=shop, category="noise", answers={}, now=NOW)
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        record_check(session, v["leader2"], shop_code=shop, category="gas", answers=answers, now=NOW)
    assert _count(engine, HazardCheck) == 2 and _count(engine, Case) == 1


def test_a_failure_half_way_through_a_batch_leaves_no_rows(world):
    engine, _, v = world
    points = [IN_G001, IN_G001, OUTSIDE, IN_G001]
    with pytest.raises(OutsideGrids), transaction(engine) as session:
        for lon, lat in points:
            file_case(session, v["leader1"], kind="patrol", category="noise", severity="low", title="噪音扰民",
                      lon=lon, lat=lat, now=NOW)
    assert _count(engine, Case) == 0 and _count(engine, CaseHistory) == 0


def _race(engine, viewers, case_id, action, version, n_threads=20):
    """n threads, each with its own session and connection, try the same step at once."""
    barrier = threading.Barrier(n_threads)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(viewer):
        barrier.wait()
        try:
            with transaction(engine) as session:
                transition(session, viewer, case_id, action, expected_version=version, now=NOW,
                           note=threading.current_thread().name)
            outcome = "won"
        except VersionConflict:
            outcome = "conflict"
        except Exception as exc:  # anything else is a bug the test must show
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(viewers[i % len(viewers)],), name=f"t{i}")
               for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_twenty_threads_racing_on_one_case_give_one_winner_per_version(world):
    engine, _, v = world
    case_id = _file(engine, v["leader1"])
    racers = [v["leader1"], v["supervisor"], v["admin"]]
    cycle = ["take_on", "resolve", "reopen", "resolve", "reopen", "resolve", "confirm"]
    for version, action in enumerate(cycle, start=1):
        results = _race(engine, racers, case_id, action, version)
        assert sorted(results) == ["conflict"] * 19 + ["won"], results
    history = _history(engine, case_id)
    assert [seq for seq, *_ in history] == list(range(1, len(cycle) + 2))  # no gap, no duplicate
    assert [action for _, action, *_ in history] == ["raise", *cycle]
    case = _case(engine, case_id)
    assert case.version == len(cycle) + 1 and case.state == CaseState.CLOSED and case.reopen_count == 2


# --- the rules table: one place says which step may follow which ------------------

def _rows(*steps):
    return [HistoryRow(*step) for step in steps]


W, P, F, C = CaseState.WARNING, CaseState.IN_PROGRESS, CaseState.FOLLOW_UP, CaseState.CLOSED
WHOLE_LOOP = (
    ("raise", None, W, None, "grid_leader"), ("take_on", W, P, None, "grid_leader"),
    ("resolve", P, F, None, "grid_leader"), ("reopen", F, P, None, "grid_leader"),
    ("resolve", P, F, None, "grid_leader"), ("confirm", F, C, Outcome.FIXED, "grid_leader"),
    ("rate", C, C, None, REQUESTER, 3),
)


def test_check_history_accepts_the_whole_loop_and_names_the_first_refused_row():
    assert check_history(_rows(*WHOLE_LOOP)) is None
    refused = check_history(_rows(*WHOLE_LOOP[:5], ("confirm", F, C, Outcome.NOT_RESPONSIBLE, "supervisor")))
    assert refused.position == 5 and "outcome not_responsible" in refused.reason and "fixed" in refused.reason
    dismissed = check_history(_rows(WHOLE_LOOP[0], ("dismiss", W, C, Outcome.NOT_RESPONSIBLE, "supervisor")))
    assert dismissed.position == 1 and "dismiss may not end with outcome not_responsible" in dismissed.reason
    by_leader = check_history(_rows(WHOLE_LOOP[0], ("dismiss", W, C, Outcome.DUPLICATE, "grid_leader")))
    assert by_leader.position == 1 and "a supervisor or admin" in by_leader.reason
    skipped = check_history(_rows(WHOLE_LOOP[0], ("resolve", P, F)))
    assert skipped.position == 1 and "case was warning" in skipped.reason


def test_a_poor_rating_of_a_closed_request_must_reopen_it():
    closed = WHOLE_LOOP[:6]
    for poor in (1, 2):
        left_closed = check_history(_rows(*closed, ("rate", C, C, None, REQUESTER, poor)))
        assert left_closed.position == 6 and f"rated {poor}" in left_closed.reason
        assert check_history(_rows(*closed, ("reopen", C, P, None, REQUESTER, poor))) is None
    assert check_history(_rows(*closed, ("reopen", C, P, None, REQUESTER, 4))).position == 6
    # Rated poorly while the follow-up is still open: recorded, nothing reopens.
    assert check_history(_rows(*closed[:3], ("rate", F, F, None, REQUESTER, 1))) is None


def test_the_table_decides_who_may_raise_one_case_a_check_or_a_batch(world, monkeypatch):
    engine, district, v = world
    monkeypatch.setitem(RULES, "raise", dataclasses.replace(RULES["raise"], roles=SUPERVISING))
    with pytest.raises(PermissionDenied, match="only a supervisor or admin may raise a case"):
        _file(engine, v["leader1"])
    batch = pd.DataFrame({"kind": ["patrol"], "category": ["noise"], "severity": ["low"], "title": ["噪音"],
                          "lon": [IN_G001[0]], "lat": [IN_G001[1]], "created_at": [NOW]})
    with pytest.raises(PermissionDenied, match="only a supervisor or admin"), transaction(engine) as session:
        file_cases(session, v["leader1"], batch)
    checks = pd.DataFrame({"shop_code": [district.shop_codes["G001"]], "category": ["gas"],
                           "answers": [{"gas.alarm": False}], "performed_at": [NOW]})
    with pytest.raises(PermissionDenied, match="only a supervisor or admin"), transaction(engine) as session:
        record_checks(session, v["leader1"], checks)
    with pytest.raises(PermissionDenied, match="only a supervisor or admin"), transaction(engine) as session:
        record_check(session, v["leader1"], shop_code=district.shop_codes["G001"], category="gas",
                     answers={"gas.alarm": False}, now=NOW)
    assert _count(engine, Case) == 0 and _count(engine, HazardCheck) == 0
    _file(engine, v["supervisor"])
    assert _count(engine, Case) == 1


def test_dispatch_and_rating_refuse_a_step_the_table_does_not_hold(world):
    engine, _, v = world
    request = _file(engine, v["leader1"], kind="service_request", category="noise", severity="low")
    with pytest.raises(IllegalTransition, match="is warning: a request can be rated once it is resolved"), \
            transaction(engine) as session:
        rate_case(session, case_id=request, rating=5, now=NOW)
    _act(engine, v["leader1"], request, "take_on", 1)
    with transaction(engine) as session:
        add_department(session, system_viewer(), "城管中队")
    with pytest.raises(IllegalTransition, match="is in_progress: only a warning can be dispatched"), \
            transaction(engine) as session:
        dispatch(session, v["supervisor"], request, department="城管中队", expected_version=2, now=NOW)
    with pytest.raises(ValidationError, match="action='raise' is not known"):
        _act(engine, v["admin"], request, "raise", 2)
    assert _case(engine, request).version == 2 and _count(engine, Rating) == 0
