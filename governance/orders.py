"""部门接单: the orders dispatched to a department, and its accept, return and resolve.

A dispatched order stays a warning with its department named and its
acceptance clock (``cases.accept_due_at``, LINPU_ACCEPT_LIMIT_HOURS working
hours) running.  ``accept`` moves it to in progress and starts the
department's own clock (``cases.order_due_at``, the case's time limit counted
from the acceptance; the case's ``due_at``, the grid's, stays).  ``return``
sends it back to the supervisors with a reason, counted in the evaluation.
Each is a step of the rules table, written by ``workflow.write_step``.

A department sees the orders dispatched to it, whatever grid they are in;
nothing else of the district.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.catalog import CaseState, Role
from governance.clock import clock
from governance.errors import (
    IllegalTransition,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    VersionConflict,
)
from governance.models import Case, Grid
from governance.rules import RULES
from governance.sla import due_time, follow_up_due_time
from governance.viewer import Viewer
from governance.workflow import require_step, write_step
from governance.working_time import working_calendar

#: What a department may do with an order, by its state, in the page's button order.
ORDER_STEPS = ("accept", "return", "resolve")


def _order(session: Session, viewer: Viewer, case_id: int, step: str, expected_version: int) -> Case:
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_step(viewer, step, f"{step} an order")
    if viewer.role is Role.DEPARTMENT and (case.department_id is None or case.department_id != viewer.department_id):
        raise PermissionDenied(f"{viewer.username} may act only on the orders dispatched to their department; "
                               f"case {case.case_no} is not one of them")
    if case.department_id is None:
        raise IllegalTransition(f"case {case.case_no} is dispatched to no department")
    if case.version != expected_version:
        raise VersionConflict(
            f"case {case.case_no} is at version {case.version}, you saw version {expected_version}: "
            "someone else changed it; reload it and decide again"
        )
    if case.state not in RULES[step].sources:
        raise IllegalTransition(f"case {case.case_no} is {case.state.value}: cannot {step} it; "
                                f"allowed now: {', '.join(order_steps(case)) or 'none'}")
    if step in ("accept", "return") and case.accepted_at is not None:
        raise IllegalTransition(f"case {case.case_no} was accepted already")
    return case


def order_steps(case: Case) -> list[str]:
    """The steps a department may take on its order now."""
    if case.state == CaseState.WARNING and case.department_id is not None and case.accepted_at is None:
        return ["accept", "return"]
    if case.state == CaseState.IN_PROGRESS and case.accepted_at is not None:
        return ["resolve"]
    return []


def accept_order(session: Session, viewer: Viewer, case_id: int, *, expected_version: int, note: str = "",
                 now: datetime | None = None) -> Case:
    """The department takes the order on: in progress, its own clock starts now."""
    now = clock(now)
    case = _order(session, viewer, case_id, "accept", expected_version)
    case.accepted_at = now
    case.order_due_at = due_time(now, case.category, case.severity, calendar=working_calendar(session))
    write_step(session, viewer, case, "accept", note=note, now=now,
               details={"department": case.department, "department_id": case.department_id,
                        "on_time": bool(case.accept_due_at is None or now <= case.accept_due_at)})
    return case


def return_order(session: Session, viewer: Viewer, case_id: int, *, expected_version: int, reason: str,
                 now: datetime | None = None) -> Case:
    """The department sends the order back with a reason: a warning again, dispatched to nobody."""
    now = clock(now)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("field reason: say why the department returns the order")
    case = _order(session, viewer, case_id, "return", expected_version)
    details = {"department": case.department, "department_id": case.department_id}
    case.department = case.department_id = case.accept_due_at = None
    write_step(session, viewer, case, "return", note=reason, now=now, details=details)
    return case


def resolve_order(session: Session, viewer: Viewer, case_id: int, *, expected_version: int, note: str = "",
                  now: datetime | None = None) -> Case:
    """The department reports its order done: the case goes to follow-up, like a leader's resolve."""
    now = clock(now)
    case = _order(session, viewer, case_id, "resolve", expected_version)
    case.resolved_at = now
    case.follow_up_due_at = follow_up_due_time(now, case.category, calendar=working_calendar(session))
    write_step(session, viewer, case, "resolve", note=note, now=now,
               details={"department": case.department, "department_id": case.department_id})
    return case


def orders_frame(session: Session, viewer: Viewer, *, now: datetime | None = None,
                 open_only: bool = True) -> pd.DataFrame:
    """The orders of the viewer's department (a supervisor or admin: every department's) with their clocks.

    Columns: case_id, case_no, version, grid_code, kind, category, severity, title, state,
    department, accept_due_at, accepted_at, order_due_at, clock (``awaiting``,
    ``accept_overdue``, ``in_progress``, ``overdue``, ``resolved``).
    """
    now = clock(now)
    if viewer.role is Role.DEPARTMENT:
        condition = Case.department_id == viewer.department_id
    elif viewer.is_district_wide:
        condition = Case.department_id.is_not(None)
    else:
        raise PermissionDenied(f"{viewer.username} is a {viewer.role.value}: the orders list is a department's")
    query = (select(Case.id, Case.case_no, Case.version, Grid.code, Case.kind, Case.category, Case.severity,
                    Case.title, Case.state, Case.department, Case.accept_due_at, Case.accepted_at,
                    Case.order_due_at)
             .join(Grid, Grid.id == Case.grid_id).where(condition).order_by(Case.accept_due_at, Case.id))
    if open_only:
        query = query.where(Case.state.in_([CaseState.WARNING, CaseState.IN_PROGRESS]))
    columns = ["case_id", "case_no", "version", "grid_code", "kind", "category", "severity", "title", "state",
               "department", "accept_due_at", "accepted_at", "order_due_at"]
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=columns)
    frame["clock"] = [_clock(row, now) for row in frame.itertuples()]
    for column in ("kind", "category", "severity", "state"):
        frame[column] = frame[column].astype(str)
    return frame


def _clock(row, now: datetime) -> str:
    if str(row.state) == CaseState.WARNING:
        late = row.accept_due_at is not None and pd.Timestamp(row.accept_due_at) < pd.Timestamp(now)
        return "accept_overdue" if late else "awaiting"
    if str(row.state) == CaseState.IN_PROGRESS:
        late = row.order_due_at is not None and pd.Timestamp(row.order_due_at) < pd.Timestamp(now)
        return "overdue" if late else "in_progress"
    return "resolved"


__all__ = ["ORDER_STEPS", "accept_order", "order_steps", "orders_frame", "resolve_order", "return_order"]
