"""Early warnings: what needs attention before anything is reported.

A routine check past its due time, a shop failing the same checklist item
again and again, a grid whose warnings surge against its own baseline, an
order its department has not accepted in time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from governance.catalog import CaseState
from governance.check_due import checks_due_frame
from governance.clock import clock
from governance.grids import grid_scope
from governance.models import Case, Grid, HazardCheck, Shop
from governance.viewer import Viewer

#: A grid's warnings "surge" when the last week's count is at least this many
#: and at least SURGE_FACTOR times its weekly mean over the SURGE_BASELINE_WEEKS before.
SURGE_MIN = 3
SURGE_FACTOR = 2.0
SURGE_BASELINE_WEEKS = 8
#: A checklist item failed this often within REPEAT_WINDOW at one shop is an early warning.
REPEAT_MIN = 2
REPEAT_WINDOW = timedelta(days=365)


def early_warnings(session: Session, viewer: Viewer, *, now: datetime | None = None) -> pd.DataFrame:
    """What needs attention before anything is reported, in scope.

    - ``check_overdue``: a routine check past its due time;
    - ``repeated_failures``: a shop failing the same checklist item at least
      REPEAT_MIN times within REPEAT_WINDOW;
    - ``warning_surge``: a grid whose cases raised in the last 7 days are at
      least SURGE_MIN and SURGE_FACTOR times its weekly mean over the
      SURGE_BASELINE_WEEKS before;
    - ``order_not_accepted``: a dispatched order still waiting for its
      department past its acceptance limit (LINPU_ACCEPT_LIMIT_HOURS).

    Columns: kind, grid_code, shop_code, category, count, detail.
    """
    now = clock(now)
    columns = ["kind", "grid_code", "shop_code", "category", "count", "detail"]

    records = [
        *_overdue_checks(session, viewer, now),
        *_repeated_failures(session, viewer, now),
        *_warning_surges(session, viewer, now),
        *_unaccepted_orders(session, viewer, now),
    ]
    return pd.DataFrame(records, columns=columns)


def _overdue_checks(session: Session, viewer: Viewer, now: datetime) -> list[dict]:
    """Routine checks past their due time, oldest due first."""
    records: list[dict] = []
    due = checks_due_frame(session, viewer, now)
    for row in due[due["overdue"]].sort_values("due_at").itertuples():
        days = (pd.Timestamp(now) - row.due_at).total_seconds() / 86400
        last = "never checked" if pd.isna(row.last_checked_at) else f"last checked {row.last_checked_at:%Y-%m-%d}"
        records.append({
            "kind": "check_overdue", "grid_code": row.grid_code, "shop_code": row.shop_code,
            "category": row.category, "count": 1,
            "detail": f"{row.category} check overdue by {days:.0f} days ({last})",
        })
    return records


def _repeated_failures(session: Session, viewer: Viewer, now: datetime) -> list[dict]:
    """Shops failing one checklist item at least REPEAT_MIN times within REPEAT_WINDOW."""
    records: list[dict] = []
    failed = session.execute(
        select(Shop.shop_code, Grid.code, HazardCheck.category, HazardCheck.answers)
        .join(Shop, Shop.id == HazardCheck.shop_id)
        .join(Grid, Grid.id == Shop.grid_id)
        .where(grid_scope(session, viewer), HazardCheck.passed.is_(False), HazardCheck.performed_at >= now - REPEAT_WINDOW)
    ).all()
    item_failures: dict[tuple[str, str, str, str], int] = {}
    for shop_code, grid_code, category, answers in failed:
        for item, ok in (answers or {}).items():
            if not ok:
                key = (grid_code, shop_code, str(category), item)
                item_failures[key] = item_failures.get(key, 0) + 1
    for (grid_code, shop_code, category, item), count in sorted(item_failures.items()):
        if count >= REPEAT_MIN:
            records.append({
                "kind": "repeated_failures", "grid_code": grid_code, "shop_code": shop_code,
                "category": category, "count": count,
                "detail": f"{item} failed {count} times in the last {REPEAT_WINDOW.days} days",
            })
    return records


def _warning_surges(session: Session, viewer: Viewer, now: datetime) -> list[dict]:
    """Grids whose last week's cases surge against their own weekly mean."""
    records: list[dict] = []
    week = timedelta(days=7)
    baseline_start = now - week * (SURGE_BASELINE_WEEKS + 1)
    raised = session.execute(
        select(
            Grid.code,
            func.sum(case((Case.created_at >= now - week, 1), else_=0)),
            func.sum(case((Case.created_at < now - week, 1), else_=0)),
        )
        .join(Grid, Grid.id == Case.grid_id)
        .where(grid_scope(session, viewer), Case.created_at >= baseline_start, Case.created_at <= now)
        .group_by(Grid.code)
    ).all()
    for grid_code, recent, before in raised:
        recent, baseline = int(recent or 0), int(before or 0) / SURGE_BASELINE_WEEKS
        if recent >= SURGE_MIN and recent >= SURGE_FACTOR * max(baseline, 0.5):
            records.append({
                "kind": "warning_surge", "grid_code": grid_code, "shop_code": None, "category": None,
                "count": recent,
                "detail": f"{recent} cases raised in the last 7 days against a weekly mean of {baseline:.1f} "
                f"over the {SURGE_BASELINE_WEEKS} weeks before",
            })
    return records


def _unaccepted_orders(session: Session, viewer: Viewer, now: datetime) -> list[dict]:
    """Dispatched orders still waiting for their department past the acceptance limit, oldest first."""
    late = session.execute(
        select(Grid.code, Shop.shop_code, Case.category, Case.case_no, Case.department, Case.accept_due_at)
        .join(Grid, Grid.id == Case.grid_id)
        .outerjoin(Shop, Shop.id == Case.shop_id)
        .where(grid_scope(session, viewer), Case.state == CaseState.WARNING, Case.department_id.is_not(None),
               Case.accepted_at.is_(None), Case.accept_due_at < now)
        .order_by(Case.accept_due_at)
    ).all()
    return [{
        "kind": "order_not_accepted", "grid_code": grid_code, "shop_code": shop_code, "category": str(category),
        "count": 1,
        "detail": f"case {case_no} dispatched to {department} not accepted; due by {due:%Y-%m-%d %H:%M} UTC",
    } for grid_code, shop_code, category, case_no, department, due in late]
