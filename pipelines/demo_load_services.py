"""The demo's service orders and split cases, played through the domain at their times (issue 20).

The files are ``demo_services``'s.  A service request is placed from its
shop's page (``public_requests.place_request``) and each later step taken by
the function a user's click calls: a dispatch by ``workflow.dispatch``, a
department's accept, return and resolve by ``orders``, a confirmation by
``workflow.transition``, a rating through the request's tracking token.  A
split case is filed by its grid's leader at the grid's first shop (by code),
taken on, and split with ``sub_tasks``; the last sub-task done resolves it,
as the server does, and the load checks each case ends where its file says.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.catalog import CaseKind
from governance.grids import current_generation_id
from governance.models import Case, Grid, Shop, SubTask
from governance.orders import accept_order, resolve_order, return_order
from governance.permissions import viewer_for
from governance.public_requests import place_request, rate_request
from governance.sub_tasks import add_sub_task, complete_sub_task, return_sub_task
from governance.workflow import dispatch, file_case, transition
from pipelines.demo_files import DemoDataError, read_demo_csv, shifted_times

#: The files whose times count in the demo's shift, with their time column.
TIMED_FILES = (("service_history.csv", "at"), ("split_history.csv", "at"), ("sub_tasks.csv", "at"))


def time_columns(folder: Path) -> list[pd.Series]:
    """The time columns of these files, for ``demo_load.demo_shift``."""
    return [read_demo_csv(folder, name)[column] for name, column in TIMED_FILES]


def _steps(folder: Path, name: str, shift: timedelta) -> pd.DataFrame:
    frame = read_demo_csv(folder, name)
    return frame.assign(seq=frame["seq"].astype(int), at=shifted_times(frame["at"], shift))


def _order_step(session: Session, case: Case, token: str, step) -> None:
    if not step.actor:  # the requester, through the tracking link
        rate_request(session, token=token, rating=int(step.rating), comment=step.note, now=step.at)
        return
    viewer = viewer_for(session, step.actor)
    common = {"expected_version": case.version, "now": step.at}
    if step.action == "dispatch":
        dispatch(session, viewer, case.id, department=step.department, note=step.note, **common)
    elif step.action == "accept":
        accept_order(session, viewer, case.id, note=step.note, **common)
    elif step.action == "return":
        return_order(session, viewer, case.id, reason=step.note, **common)
    elif step.action == "resolve" and viewer.department_id is not None:
        resolve_order(session, viewer, case.id, note=step.note, **common)
    else:
        transition(session, viewer, case.id, step.action, note=step.note, **common)


def load_service_orders(session: Session, folder: Path, shift: timedelta, shop_rows: dict[str, Shop]) -> int:
    """Every request of ``services.csv``, placed and then taken step by step; how many."""
    requests = read_demo_csv(folder, "services.csv")
    steps = _steps(folder, "service_history.csv", shift)
    for i, row in enumerate(requests.itertuples(), start=1):
        own = steps[steps["request_id"] == row.request_id].sort_values("seq")
        if own.empty or own.iloc[0]["action"] != "raise":
            raise DemoDataError(f"service_history.csv: request {row.request_id} does not start with its raise")
        # Documentation addresses (RFC 5737), one per sender, as the per-address limit counts them.
        placed = place_request(session, public_id=shop_rows[row.shop_id].public_id, kind="order", topic=row.topic,
                               text=row.text, phone=row.phone or None, client_address=f"198.51.100.{i}",
                               now=own.iloc[0]["at"])
        case = session.scalar(select(Case).where(Case.case_no == placed.case_no))
        for step in own.iloc[1:].itertuples():
            _order_step(session, case, placed.token, step)
        _check_end(case, own, "service_history.csv", row.request_id)
    return len(requests)


def _check_end(case: Case, rows: pd.DataFrame, name: str, key: str) -> None:
    if str(case.state) != rows.iloc[-1]["to_state"]:
        raise DemoDataError(f"{name}: {key} ends {case.state}, the file says {rows.iloc[-1]['to_state']}")


def _first_shop(session: Session, code: str) -> Shop:
    shop = session.scalar(select(Shop).join(Grid, Grid.id == Shop.grid_id).where(
        Grid.code == code, Grid.generation_id == current_generation_id(session)).order_by(Shop.shop_code))
    if shop is None:
        raise DemoDataError(f"split_cases.csv: grid {code} holds no shop")
    return shop


def _sub_task_step(session: Session, case: Case, tasks: dict[int, SubTask], step) -> None:
    viewer = viewer_for(session, step.actor)
    if step.action == "give":
        tasks[int(step.task)] = add_sub_task(session, viewer, case.id, title=step.title,
                                             assignee=step.assignee or None, department=step.department or None,
                                             now=step.at)
        return
    task = tasks[int(step.task)]
    if step.action == "done":
        complete_sub_task(session, viewer, task.id, expected_version=task.version, note=step.note, now=step.at)
    else:
        return_sub_task(session, viewer, task.id, expected_version=task.version, reason=step.note, now=step.at)


def load_split_cases(session: Session, folder: Path, shift: timedelta) -> int:
    """Every case of ``split_cases.csv``: filed, taken on and split, its sub-tasks done or returned in time order."""
    cases = read_demo_csv(folder, "split_cases.csv")
    history = _steps(folder, "split_history.csv", shift)
    sub_steps = _steps(folder, "sub_tasks.csv", shift)
    for row in cases.itertuples():
        own = history[history["case_id"] == row.case_id].sort_values("seq")
        if own.empty or own.iloc[0]["action"] != "raise":
            raise DemoDataError(f"split_history.csv: case {row.case_id} does not start with its raise")
        shop, raised = _first_shop(session, row.grid), own.iloc[0]
        case = file_case(session, viewer_for(session, raised["actor"]), kind=CaseKind.PATROL, category=row.category,
                         severity=row.severity, title=row.title, description=row.description,
                         lon=shop.geometry.x, lat=shop.geometry.y, shop_code=shop.shop_code, now=raised["at"])
        # The server's resolve (the last sub-task done) is not played: completing that sub-task makes it.
        events = [(s.at, 0, s) for s in own.iloc[1:].itertuples() if s.action != "resolve"]
        events += [(s.at, 1, s) for s in sub_steps[sub_steps["case_id"] == row.case_id].itertuples()]
        tasks: dict[int, SubTask] = {}
        for _, source, step in sorted(events, key=lambda e: (e[0], e[1], int(getattr(e[2], "task", 0)), e[2].seq)):
            if source == 0:
                transition(session, viewer_for(session, step.actor), case.id, step.action,
                           expected_version=case.version, note=step.note, now=step.at)
            else:
                _sub_task_step(session, case, tasks, step)
        _check_end(case, own, "split_history.csv", row.case_id)
    return len(cases)


__all__ = ["TIMED_FILES", "load_service_orders", "load_split_cases", "time_columns"]
