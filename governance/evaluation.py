"""The department evaluation (部门评价): each department's own line, for the supervisor's page.

From the history rows the order steps write (``governance.orders``): orders
received (dispatched to it), returned, accepted and accepted on time (by the
acceptance limit), resolved and resolved on time (by the department's own
clock, ``order_due_at``), the median wall-clock hours from accept to
resolve, the requesters' mean rating of its orders, and its sub-tasks done
and done on time.  The grid ranking's minimum-sample rule applies: only a
department with at least ``min_orders_for_rank`` orders gets a rank.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.errors import PermissionDenied
from governance.models import Case, CaseHistory, Department, Rating, SubTask, SubTaskHistory
from governance.viewer import Viewer

COLUMNS = ["department", "received", "returned", "accepted", "accepted_on_time", "resolved", "resolved_on_time",
           "median_hours_to_resolve", "mean_rating", "sub_tasks_done", "sub_tasks_on_time", "rankable", "rank"]


def department_evaluation(session: Session, viewer: Viewer, *, since: datetime | None = None,
                          until: datetime | None = None, min_orders_for_rank: int = 5) -> pd.DataFrame:
    """One row per department over the steps taken in ``[since, until)`` (all when None)."""
    if not viewer.is_district_wide:
        # Departments serve the whole district: their line is read district-wide (supervisor, analyst, admin).
        raise PermissionDenied(f"{viewer.username} ({viewer.role.value}) sees part of the district; the department "
                               "evaluation is read district-wide")
    names = dict(session.execute(select(Department.id, Department.name)).all())
    rows = _in_period(session.execute(
        select(CaseHistory.case_id, CaseHistory.action, CaseHistory.at, CaseHistory.details,
               Case.order_due_at).join(Case, Case.id == CaseHistory.case_id)
        .where(CaseHistory.action.in_(["dispatch", "accept", "return", "resolve"]))
        .order_by(CaseHistory.at, CaseHistory.case_id, CaseHistory.seq)
    ).all(), since, until)
    figures = {d: dict.fromkeys(COLUMNS[1:7] + ["sub_tasks_done", "sub_tasks_on_time"], 0) for d in names}
    accepted_at: dict[int, datetime] = {}
    hours: dict[int, list[float]] = {d: [] for d in names}
    for case_id, action, at, details, order_due in rows:
        department = (details or {}).get("department_id")
        if department not in figures:
            continue
        line = figures[department]
        if action == "dispatch":
            line["received"] += 1
        elif action == "return":
            line["returned"] += 1
        elif action == "accept":
            line["accepted"] += 1
            line["accepted_on_time"] += bool(details.get("on_time"))
            accepted_at[case_id] = at
        else:
            line["resolved"] += 1
            line["resolved_on_time"] += bool(order_due is not None and at <= order_due)
            if case_id in accepted_at:
                hours[department].append((at - accepted_at[case_id]).total_seconds() / 3600)
    done = _in_period(session.execute(
        select(SubTask.department_id, SubTaskHistory.at, SubTaskHistory.details)
        .join(SubTask, SubTask.id == SubTaskHistory.sub_task_id)
        .where(SubTaskHistory.action == "done", SubTask.department_id.is_not(None))
    ).all(), since, until, at_index=1)
    for department, _, details in done:
        figures[department]["sub_tasks_done"] += 1
        figures[department]["sub_tasks_on_time"] += bool((details or {}).get("on_time"))
    ratings: dict[int, list[int]] = {d: [] for d in names}
    for department, rating in session.execute(select(Case.department_id, Rating.rating)
                                              .join(Case, Case.id == Rating.case_id)
                                              .where(Case.department_id.is_not(None))):
        ratings[department].append(rating)
    frame = pd.DataFrame([
        {"department": names[d], **figures[d],
         "median_hours_to_resolve": float(pd.Series(hours[d]).median()) if hours[d] else float("nan"),
         "mean_rating": float(pd.Series(ratings[d]).mean()) if ratings[d] else float("nan")}
        for d in sorted(names, key=names.get)
    ], columns=COLUMNS[:-2])
    frame["rankable"] = frame["received"] >= min_orders_for_rank
    rate = frame["resolved_on_time"] / frame["received"].where(frame["received"] > 0)
    frame["rank"] = rate[frame["rankable"]].rank(ascending=False, method="min").reindex(frame.index)
    return frame


def _in_period(rows, since: datetime | None, until: datetime | None, *, at_index: int = 2) -> list:
    return [r for r in rows if (since is None or r[at_index] >= since) and (until is None or r[at_index] < until)]


__all__ = ["department_evaluation"]
