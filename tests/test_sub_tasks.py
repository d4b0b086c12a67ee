"""Sub-tasks (issue 20): a case split among the team and departments, each with its own clock and history.

The last sub-task done resolves the case (the server's step, naming it);
concurrent completions are not shown as version conflicts; moving or
disabling a member hands their open sub-tasks back to the grid leader.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from governance import sub_tasks
from governance.catalog import CaseState
from governance.db import transaction
from governance.errors import IllegalTransition, PermissionDenied, ValidationError
from governance.loop_summary import grid_loop_summary
from governance.models import Case, CaseHistory, SubTaskHistory
from governance.rules import HistoryRow, check_history
from governance.sub_tasks import (
    add_sub_task,
    complete_sub_task,
    give_again,
    return_sub_task,
    sub_tasks_frame,
)
from governance.team_accounts import save_team_account
from governance.testing import IN_G001, IN_G002, seed_small_district, seed_team
from governance.workflow import file_case, transition
from pipelines.users import set_active

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # Friday 09:00 Shanghai


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    seed_team(engine)
    names = ("leader1", "leader2", "supervisor", "fire1", "prop1", "sec2", "dept1")
    return engine, {name: district.viewer(engine, name) for name in names}


def _case_in_progress(engine, v) -> int:
    with transaction(engine) as session:
        case = file_case(session, v["leader1"], kind="patrol", category="electricity", severity="medium",
                         title="配电箱破损", lon=IN_G001[0], lat=IN_G001[1], now=NOW)
        transition(session, v["leader1"], case.id, "take_on", expected_version=1, now=NOW)
        return case.id


def _split(engine, v, case_id, **owners) -> dict[str, int]:
    ids = {}
    with transaction(engine) as session:
        for name, owner in owners.items():
            kw = {"department": owner} if owner == "城管中队" else {"assignee": owner}
            ids[name] = add_sub_task(session, v["leader1"], case_id, title=name, limit_hours=4, now=NOW, **kw).id
    return ids


def _case(engine, case_id) -> Case:
    with transaction(engine) as session:
        return session.get(Case, case_id)


def test_the_last_sub_task_done_moves_the_case_to_follow_up_and_its_row_names_it(world):
    engine, v = world
    case_id = _case_in_progress(engine, v)
    ids = _split(engine, v, case_id, 换配电箱="fire1", 清理堆物="城管中队")
    with transaction(engine) as session:
        frame = sub_tasks_frame(session, v["fire1"], now=NOW)
        assert list(frame["title"]) == ["换配电箱"]
        # Four working hours from 09:00 Friday: 15:00 (lunch does not count).
        assert frame["due_at"].iloc[0] == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
        complete_sub_task(session, v["fire1"], ids["换配电箱"], expected_version=1, now=NOW + timedelta(hours=1))
    assert _case(engine, case_id).state == CaseState.IN_PROGRESS  # one still open
    with transaction(engine) as session:
        complete_sub_task(session, v["dept1"], ids["清理堆物"], expected_version=1, now=NOW + timedelta(hours=9))
    case = _case(engine, case_id)
    assert case.state == CaseState.FOLLOW_UP and case.resolved_at == NOW + timedelta(hours=9)
    with transaction(engine) as session:
        rows = session.execute(select(CaseHistory.action, CaseHistory.from_state, CaseHistory.to_state,
                                      CaseHistory.note, CaseHistory.details)
                               .where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq)).all()
        done = session.execute(select(SubTaskHistory.details).where(SubTaskHistory.action == "done")
                               .order_by(SubTaskHistory.id)).scalars().all()
    assert rows[-1][0] == "resolve" and "清理堆物" in rows[-1][3] and rows[-1][4]["sub_task_id"] == ids["清理堆物"]
    assert check_history([HistoryRow(a, f, t, role=r) for (a, f, t, _, _), r in
                          zip(rows, ["grid_leader", "grid_leader", "department"], strict=True)]) is None
    # Each judged on its own due time: the first on time, the department's late.
    assert [d["on_time"] for d in done] == [True, False]


def test_sub_tasks_leave_the_grids_figures_as_the_case_alone_makes_them(world):
    """A split case is one case in its grid's loop figures, open or overdue sub-tasks and all; done,
    it stands as a twin case the leader resolved at the same time (issue 20)."""
    engine, v = world
    figures = ["warning", "in_progress", "follow_up", "closed", "open", "total", "overdue"]
    later = NOW + timedelta(hours=10)  # past both sub-tasks' four working hours

    def grid_figures(code: str) -> dict:
        with transaction(engine) as session:
            summary = grid_loop_summary(session, v["supervisor"], now=later).set_index("code")
        return summary.loc[code, figures].to_dict()

    case_id = _case_in_progress(engine, v)
    alone = grid_figures("G001")
    ids = _split(engine, v, case_id, 换配电箱="fire1", 清理堆物="城管中队")
    assert grid_figures("G001") == alone  # two open sub-tasks, one overdue by `later`: no case more, none overdue
    with transaction(engine) as session:
        twin = file_case(session, v["leader2"], kind="patrol", category="electricity", severity="medium",
                         title="配电箱破损", lon=IN_G002[0], lat=IN_G002[1], now=NOW)
        transition(session, v["leader2"], twin.id, "take_on", expected_version=1, now=NOW)
        transition(session, v["leader2"], twin.id, "resolve", expected_version=2, now=NOW + timedelta(hours=9))
        complete_sub_task(session, v["fire1"], ids["换配电箱"], expected_version=1, now=NOW + timedelta(hours=1))
        complete_sub_task(session, v["dept1"], ids["清理堆物"], expected_version=1, now=NOW + timedelta(hours=9))
    assert _case(engine, case_id).state == CaseState.FOLLOW_UP
    assert grid_figures("G001") == grid_figures("G002")
    assert grid_figures("G001")["total"] == 1


def test_only_the_owner_works_a_sub_task_and_a_member_sees_only_their_own(world):
    engine, v = world
    case_id = _case_in_progress(engine, v)
    ids = _split(engine, v, case_id, a="fire1", b="prop1")
    for other in ("prop1", "leader1", "dept1", "sec2"):
        with transaction(engine) as session, pytest.raises(PermissionDenied):
            complete_sub_task(session, v[other], ids["a"], expected_version=1, now=NOW)
    with transaction(engine) as session:
        assert list(sub_tasks_frame(session, v["prop1"], now=NOW)["title"]) == ["b"]
        assert sub_tasks_frame(session, v["sec2"], now=NOW).empty
        assert sorted(sub_tasks_frame(session, v["leader1"], now=NOW)["title"]) == ["a", "b"]
        assert sub_tasks_frame(session, v["leader2"], now=NOW).empty
    with transaction(engine) as session, pytest.raises(ValidationError, match="not in the team"):
        add_sub_task(session, v["leader1"], case_id, title="c", assignee="sec2", now=NOW)
    with transaction(engine) as session, pytest.raises(PermissionDenied):
        add_sub_task(session, v["fire1"], case_id, title="c", assignee="prop1", now=NOW)


def test_a_case_is_split_while_in_progress_and_the_leader_resolving_early_states_why(world):
    engine, v = world
    with transaction(engine) as session:
        case = file_case(session, v["leader1"], kind="patrol", category="noise", severity="low", title="噪音",
                         lon=IN_G001[0], lat=IN_G001[1], now=NOW)
        with pytest.raises(IllegalTransition, match="take it on first"):
            add_sub_task(session, v["leader1"], case.id, title="x", assignee="fire1", now=NOW)
    case_id = _case_in_progress(engine, v)
    _split(engine, v, case_id, a="fire1")
    with transaction(engine) as session, pytest.raises(ValidationError, match="state the reason"):
        transition(session, v["leader1"], case_id, "resolve", expected_version=2, now=NOW)
    with transaction(engine) as session:
        transition(session, v["leader1"], case_id, "resolve", expected_version=2, note="已现场处置完毕", now=NOW)
    assert _case(engine, case_id).state == CaseState.FOLLOW_UP


def test_a_returned_sub_task_goes_back_to_the_leader_who_gives_it_again(world):
    engine, v = world
    case_id = _case_in_progress(engine, v)
    ids = _split(engine, v, case_id, a="fire1")
    with transaction(engine) as session, pytest.raises(ValidationError, match="reason"):
        return_sub_task(session, v["fire1"], ids["a"], expected_version=1, reason="", now=NOW)
    with transaction(engine) as session:
        return_sub_task(session, v["fire1"], ids["a"], expected_version=1, reason="需要电工", now=NOW)
        assert sub_tasks_frame(session, v["fire1"], now=NOW).empty
        give_again(session, v["leader1"], ids["a"], department="城管中队", now=NOW)
    with transaction(engine) as session:
        complete_sub_task(session, v["dept1"], ids["a"], expected_version=3, now=NOW)
    assert _case(engine, case_id).state == CaseState.FOLLOW_UP


def test_moving_or_disabling_a_member_hands_open_sub_tasks_back(world):
    engine, v = world
    case_id = _case_in_progress(engine, v)
    ids = _split(engine, v, case_id, a="fire1", b="prop1")
    with transaction(engine) as session:
        save_team_account(session, "fire1", role="member", member_kind="fire", grids=("G002",), now=NOW)
    handed = set_active(engine, "prop1", False)
    assert handed == 1
    with transaction(engine) as session:
        frame = sub_tasks_frame(session, v["leader1"], now=NOW, open_only=False)
        actions = session.execute(select(SubTaskHistory.sub_task_id, SubTaskHistory.action)
                                  .where(SubTaskHistory.action == "hand_back")).all()
    assert set(frame["state"]) == {"returned"}
    assert sorted(i for i, _ in actions) == sorted(ids.values())


def test_concurrent_completions_of_the_last_two_sub_tasks_resolve_the_case_once(world, monkeypatch):
    engine, v = world
    case_id = _case_in_progress(engine, v)
    ids = _split(engine, v, case_id, a="fire1", b="prop1")
    marked, committing, errors = threading.Barrier(2), threading.Barrier(2), []
    record = sub_tasks._history
    workers = set()

    def meet(barrier):
        # SQLite lets one writer that far at a time: the other waits for the lock, the meeting times out.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)

    def meet_after_marking_done(*args, **kwargs):
        record(*args, **kwargs)
        meet(marked)

    def meet_before_commit(session):
        if threading.current_thread() in workers:
            meet(committing)

    # Both sub-tasks are marked done, and neither completion commits before both have looked at
    # the case: without the case row making them take turns, each would see the other still open.
    monkeypatch.setattr(sub_tasks, "_history", meet_after_marking_done)
    event.listen(Session, "before_commit", meet_before_commit)

    def complete(name, task_id):
        try:
            with transaction(engine) as session:
                complete_sub_task(session, v[name], task_id, expected_version=1, now=NOW)
        except Exception as exc:  # the test reports whatever either thread met
            errors.append(exc)

    threads = [threading.Thread(target=complete, args=(n, ids[t])) for n, t in (("fire1", "a"), ("prop1", "b"))]
    workers.update(threads)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        event.remove(Session, "before_commit", meet_before_commit)
    assert errors == []
    with transaction(engine) as session:
        actions = session.scalars(select(CaseHistory.action).where(CaseHistory.case_id == case_id)
                                  .order_by(CaseHistory.seq)).all()
    assert actions == ["raise", "take_on", "resolve"]
    assert _case(engine, case_id).state == CaseState.FOLLOW_UP
