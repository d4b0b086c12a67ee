"""Sub-tasks: a case split into parts, each given to a team member or a department.

Each sub-task has its own due time on the working-time clock and its own
history (``sub_task_history``: given, done, returned, handed back, given
again); its states are open, done and returned (back with the grid leader).
When the last sub-task of a case in progress is done, the server resolves the
case in the same transaction: the rules table's ``resolve_by_sub_tasks``,
recorded as a ``resolve`` whose history row names that sub-task.  The grid
leader may still resolve the case themselves, with a stated reason.

Two members completing the last two sub-tasks at once only meet on the parent
case: each completion locks the case row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write lock, already held since the sub-task's update)
before counting what is still open, so the second waits for the first and
reads its result instead of failing on the case's version.  No version
conflict is shown for a sub-task nobody else touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from governance.catalog import CaseState, Role, SubTaskState
from governance.clock import clock
from governance.departments import department_named
from governance.errors import (
    IllegalTransition,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    VersionConflict,
)
from governance.grids import current_generation_id
from governance.models import Case, Grid, GridMember, SubTask, SubTaskHistory, User
from governance.permissions import require_grid, require_write
from governance.sla import due_time, follow_up_due_time
from governance.viewer import Viewer
from governance.workflow import write_step
from governance.working_time import working_calendar

OPEN, DONE, RETURNED = SubTaskState.OPEN, SubTaskState.DONE, SubTaskState.RETURNED


def _history(session: Session, task: SubTask, viewer: Viewer | None, action: str, from_state, *, note: str,
             now: datetime, details: dict | None = None) -> None:
    session.add(SubTaskHistory(sub_task_id=task.id, at=now, actor_id=viewer.user_id if viewer else None,
                               action=action, from_state=from_state, to_state=task.state, note=note or "",
                               details={"actor": viewer.username if viewer else "system", **(details or {})}))


def _owner(session: Session, case: Case, assignee: str | None, department: str | None) -> tuple[int | None, int | None]:
    if bool(assignee) == bool(department):
        raise ValidationError("field owner: give a sub-task to one team member or one department")
    if department:
        return None, department_named(session, department).id
    user = session.scalar(select(User).where(User.username == assignee))
    if user is None or not user.is_active or user.role not in (Role.MEMBER, Role.GRID_LEADER):
        raise NotFoundError(f"field assignee: {assignee!r} is no active member or leader account")
    in_grid = session.scalar(select(GridMember.id).where(GridMember.user_id == user.id,
                                                         GridMember.grid_id == case.grid_id))
    if in_grid is None:
        raise ValidationError(f"field assignee: {assignee} is not in the team of the case's grid")
    return user.id, None


def _due(session: Session, case: Case, now: datetime, limit_hours: float | None) -> datetime:
    calendar = working_calendar(session)
    if limit_hours is None:
        return due_time(now, case.category, case.severity, calendar=calendar)
    if limit_hours <= 0:
        raise ValidationError(f"field limit_hours: {limit_hours} is not a positive number of working hours")
    return calendar.add_working(now, timedelta(hours=limit_hours))


def add_sub_task(session: Session, viewer: Viewer, case_id: int, *, title: str, assignee: str | None = None,
                 department: str | None = None, limit_hours: float | None = None,
                 now: datetime | None = None) -> SubTask:
    """Split off a part of a case in progress for a member of its grid's team or a department.

    Due ``limit_hours`` working hours from now, or by the case's own time limit counted from now.
    """
    now = clock(now)
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_write(viewer, case.grid_id)
    if viewer.role not in (Role.GRID_LEADER, Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied(f"only a grid leader, supervisor or admin may split a case; "
                               f"{viewer.username} is a {viewer.role.value}")
    if case.state != CaseState.IN_PROGRESS:
        raise IllegalTransition(f"case {case.case_no} is {case.state.value}: a case is split while in progress; "
                                "take it on first")
    title = (title or "").strip()
    if not title or len(title) > 255:
        raise ValidationError("field title: say in 1 to 255 characters what the sub-task is")
    assignee_id, department_id = _owner(session, case, assignee, department)
    task = SubTask(case_id=case.id, title=title, assignee_id=assignee_id, department_id=department_id,
                   state=OPEN, created_at=now, due_at=_due(session, case, now, limit_hours))
    session.add(task)
    session.flush()
    _history(session, task, viewer, "give", None, note="", now=now,
             details={"assignee": assignee, "department": department})
    return task


def _owned(session: Session, viewer: Viewer, sub_task_id: int, expected_version: int) -> SubTask:
    task = session.get(SubTask, sub_task_id, populate_existing=True)
    if task is None:
        raise NotFoundError(f"no sub-task with id {sub_task_id}")
    mine = (task.assignee_id is not None and task.assignee_id == viewer.user_id) or \
        (task.department_id is not None and task.department_id == viewer.department_id)
    if not mine:
        raise PermissionDenied(f"{viewer.username} may act only on the sub-tasks given to them; "
                               f"sub-task {task.id} is not one of them")
    if task.version != expected_version:
        raise VersionConflict(f"sub-task {task.id} is at version {task.version}, you saw version "
                              f"{expected_version}: it was changed meanwhile; reload it")
    if task.state != OPEN:
        raise IllegalTransition(f"sub-task {task.id} is {task.state.value}: only an open sub-task can be "
                                "done or returned")
    return task


def _flush(session: Session, task_id: int) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise VersionConflict(f"sub-task {task_id} was changed meanwhile; reload it") from None


def complete_sub_task(session: Session, viewer: Viewer, sub_task_id: int, *, expected_version: int,
                      note: str = "", now: datetime | None = None) -> SubTask:
    """The owner reports the sub-task done; the last one done resolves the case (the server's step)."""
    now = clock(now)
    task = _owned(session, viewer, sub_task_id, expected_version)
    task.state, task.done_at = DONE, now
    _flush(session, task.id)
    _history(session, task, viewer, "done", OPEN, note=note, now=now, details={"on_time": now <= task.due_at})
    # The parent row's lock makes concurrent completions take turns (module docstring).
    case = session.scalars(select(Case).where(Case.id == task.case_id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    left = session.scalar(select(func.count()).select_from(SubTask)
                          .where(SubTask.case_id == case.id, SubTask.state != DONE))
    if left == 0 and case.state == CaseState.IN_PROGRESS:
        case.resolved_at = now
        case.follow_up_due_at = follow_up_due_time(now, case.category, calendar=working_calendar(session))
        write_step(session, viewer, case, "resolve_by_sub_tasks", now=now,
                   note=f"every sub-task done; the last: {task.title}", details={"sub_task_id": task.id})
    return task


def return_sub_task(session: Session, viewer: Viewer, sub_task_id: int, *, expected_version: int, reason: str,
                    now: datetime | None = None) -> SubTask:
    """The owner hands the sub-task back to the grid leader, saying why."""
    now = clock(now)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("field reason: say why the sub-task goes back to the leader")
    task = _owned(session, viewer, sub_task_id, expected_version)
    task.state = RETURNED
    _flush(session, task.id)
    _history(session, task, viewer, "return", OPEN, note=reason, now=now)
    return task


def give_again(session: Session, viewer: Viewer, sub_task_id: int, *, assignee: str | None = None,
               department: str | None = None, limit_hours: float | None = None,
               now: datetime | None = None) -> SubTask:
    """The leader gives a returned sub-task to someone (again), with a fresh due time."""
    now = clock(now)
    task = session.get(SubTask, sub_task_id, populate_existing=True)
    if task is None:
        raise NotFoundError(f"no sub-task with id {sub_task_id}")
    case = session.get(Case, task.case_id)
    require_write(viewer, case.grid_id)
    if viewer.role not in (Role.GRID_LEADER, Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied(f"only a grid leader, supervisor or admin may give a sub-task; "
                               f"{viewer.username} is a {viewer.role.value}")
    if task.state != RETURNED:
        raise IllegalTransition(f"sub-task {task.id} is {task.state.value}: only a returned one is given again")
    task.assignee_id, task.department_id = _owner(session, case, assignee, department)
    task.state, task.due_at = OPEN, _due(session, case, now, limit_hours)
    _flush(session, task.id)
    _history(session, task, viewer, "give", RETURNED, note="", now=now,
             details={"assignee": assignee, "department": department})
    return task


def hand_back_sub_tasks(session: Session, user_id: int, *, keep_grid_ids: Iterable[int] | None = None,
                        reason: str, actor: Viewer | None = None, now: datetime | None = None) -> int:
    """Hand a member's open sub-tasks back to the grid leader (returned), outside ``keep_grid_ids``.

    For a member disabled (``keep_grid_ids`` None: every one) or moved to other
    grids.  Returns how many were handed back.
    """
    now = clock(now)
    query = select(SubTask).join(Case, Case.id == SubTask.case_id).where(
        SubTask.assignee_id == user_id, SubTask.state == OPEN)
    if keep_grid_ids is not None:
        query = query.where(Case.grid_id.not_in(list(keep_grid_ids)))
    tasks = session.scalars(query).all()
    for task in tasks:
        task.state = RETURNED
        session.flush()
        _history(session, task, actor, "hand_back", OPEN, note=reason, now=now)
    return len(tasks)


def sub_tasks_frame(session: Session, viewer: Viewer, *, now: datetime | None = None,
                    case_id: int | None = None, open_only: bool = True) -> pd.DataFrame:
    """The sub-tasks the viewer may see: a member or department its own; a leader those of their
    grids' cases; district-wide viewers all.

    Columns: sub_task_id, version, case_id, case_no, grid_code, category, case_title, title, owner,
    state, due_at, done_at, overdue.
    """
    now = clock(now)
    owner = func.coalesce(User.display_name, "")
    query = (select(SubTask.id, SubTask.version, Case.id, Case.case_no, Grid.code, Case.category, Case.title,
                    SubTask.title, owner, SubTask.state, SubTask.due_at, SubTask.done_at, SubTask.department_id)
             .join(Case, Case.id == SubTask.case_id).join(Grid, Grid.id == Case.grid_id)
             .outerjoin(User, User.id == SubTask.assignee_id).order_by(SubTask.due_at, SubTask.id))
    if viewer.role is Role.MEMBER:
        query = query.where(SubTask.assignee_id == viewer.user_id)
    elif viewer.role is Role.DEPARTMENT:
        query = query.where(SubTask.department_id == viewer.department_id)
    elif not viewer.is_district_wide:
        query = query.where(Case.grid_id.in_(sorted(viewer.grid_ids)))
    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFoundError(f"no case with id {case_id}")
        if viewer.role not in (Role.MEMBER, Role.DEPARTMENT):
            require_grid(viewer, case.grid_id)
        query = query.where(SubTask.case_id == case_id)
    if open_only:
        query = query.where(SubTask.state == OPEN, Case.state == CaseState.IN_PROGRESS)
    columns = ["sub_task_id", "version", "case_id", "case_no", "grid_code", "category", "case_title", "title",
               "owner", "state", "due_at", "done_at", "department_id"]
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=columns)
    frame["category"] = frame["category"].astype(str)
    frame["state"] = frame["state"].astype(str)
    frame["overdue"] = [str(s) == OPEN and pd.Timestamp(d) < pd.Timestamp(now)
                        for s, d in zip(frame["state"], frame["due_at"], strict=True)]
    return frame.drop(columns=["department_id"])


def member_grid_ids(session: Session, user_id: int) -> set[int]:
    """The current grids a member (or leader) account belongs to."""
    return set(session.scalars(select(GridMember.grid_id).join(Grid, Grid.id == GridMember.grid_id)
                               .where(GridMember.user_id == user_id,
                                      Grid.generation_id == current_generation_id(session))))


__all__ = [
    "add_sub_task", "complete_sub_task", "give_again", "hand_back_sub_tasks", "member_grid_ids",
    "return_sub_task", "sub_tasks_frame",
]
