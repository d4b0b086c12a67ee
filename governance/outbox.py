"""The outbox: a notification row for every change someone must act on.

A change that someone must act on — a case raised in a grid, dispatched to a
department, reopened, rated poorly, a batch of cases imported — writes its
notification here, in the transaction of the change: the two are committed
together or not at all, so a sender that reads the outbox can never miss a
committed change nor announce one that was rolled back.  Clock events (due
soon, overdue, a check due tomorrow) and the leaders' daily digest are written
by the sender's own scan (``governance.outbox_clock``).

Every row has a unique ``key``; a second write of the same key is ignored by
the database (``INSERT ... ON CONFLICT DO NOTHING``), which makes each clock
event once per case and event.  A row names who should hear of it: the grids
(``grid_codes``), the audience (roles, see :data:`AUDIENCES`) and, for team
members, their kinds; the sender matches these against the webhooks'
filters.  ``data`` is a snapshot of what the message says (times in UTC ISO;
the formatter shows China time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from governance.catalog import MEMBER_KIND_OF, MemberRole, Role
from governance.models import Case, Grid, Notification, Shop

#: Who a notification may be meant for: the accounts' roles of the shared decision "Roles"
#: (member and department join ``catalog.Role`` with the team issues).
AUDIENCES: tuple[str, ...] = tuple(dict.fromkeys(
    [Role.GRID_LEADER.value, "member", "department", Role.SUPERVISOR.value, Role.ADMIN.value, Role.ANALYST.value]
))
#: The team member kinds a webhook may be filtered to (the leader is the grid_leader audience).
MEMBER_KINDS: tuple[str, ...] = tuple(k.value for k in MemberRole if k != MemberRole.LEADER)
#: Steps of the rules table that are announced, and the event each writes.
ANNOUNCED_STEPS: dict[str, str] = {"raise": "case_raised", "dispatch": "case_dispatched", "reopen": "case_reopened"}
EVENTS: tuple[str, ...] = (
    "case_raised", "case_dispatched", "case_reopened", "rated_poorly", "cases_imported",
    "due_soon", "overdue", "check_due_tomorrow", "daily_digest",
)


def write(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert notification rows in the caller's transaction; a row whose key is already stored is skipped."""
    rows = [
        {"grid_codes": [], "audience": [], "member_kinds": [], "data": {}, "case_id": None,
         "fanned_out_at": None, **row}
        for row in rows
    ]
    if not rows:
        return
    table = Notification.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(table).on_conflict_do_nothing(index_elements=["key"]), rows)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def case_data(session: Session, case: Case) -> dict[str, Any]:
    """What a message about ``case`` says, as it stands now."""
    grid_code = session.scalar(select(Grid.code).where(Grid.id == case.grid_id))
    shop = session.scalar(select(Shop.name).where(Shop.id == case.shop_id)) if case.shop_id else None
    return {
        "case_id": case.id, "case_no": case.case_no, "title": case.title, "category": str(case.category),
        "severity": str(case.severity), "kind": str(case.kind), "state": str(case.state), "grid_code": grid_code,
        "shop": shop, "department": case.department, "due_at": iso(case.due_at),
        "follow_up_due_at": iso(case.follow_up_due_at),
    }


def _audience(event: str, case: Case) -> list[str]:
    base = {
        "case_raised": ["grid_leader", "member"],
        "case_dispatched": ["department", "grid_leader"],
        "case_reopened": ["grid_leader", "supervisor"],
        "rated_poorly": ["supervisor", "grid_leader"],
        "due_soon": ["grid_leader"],
        "overdue": ["grid_leader", "supervisor"],
    }[event]
    if case.department and "department" not in base:
        base.append("department")
    return base


def case_notification(session: Session, event: str, case: Case, key: str, now: datetime,
                      extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The outbox row of ``event`` about one case."""
    data = {**case_data(session, case), **(extra or {})}
    return {
        "key": key, "event": event, "case_id": case.id, "grid_codes": [data["grid_code"]],
        "audience": _audience(event, case), "member_kinds": _member_kinds(case),
        "data": data, "created_at": now,
    }


def _member_kinds(case: Case) -> list[str]:
    # The six services go to departments, not to a team member.
    kind = MEMBER_KIND_OF.get(case.category)
    return [kind.value] if kind else []


def announce_step(session: Session, case: Case, action: str, seq: int, *, now: datetime,
                  details: Mapping[str, Any] | None = None, note: str = "") -> None:
    """The workflow's one call after each history row: announce the steps someone must act on.

    A reopen by a poor rating is announced by :func:`announce_rating` instead, once.
    """
    event = ANNOUNCED_STEPS.get(action)
    if event is None or (details and "rating" in details):
        return
    extra = {"note": note, "actor": (details or {}).get("actor")}
    write(session, [case_notification(session, event, case, f"{event}:{case.id}:{seq}", now, extra)])


def announce_rating(session: Session, case: Case, *, rating_id: int, rating: int, comment: str,
                    reopened: bool, now: datetime) -> None:
    """A poor rating of a service request (the caller decides what is poor)."""
    extra = {"rating": rating, "comment": comment, "reopened": reopened}
    write(session, [case_notification(session, "rated_poorly", case, f"rated_poorly:{case.id}:{rating_id}", now,
                                      extra)])


def announce_batch(session: Session, case_ids: np.ndarray, grid_ids: np.ndarray, case_nos: list[str],
                   *, now: datetime) -> None:
    """One summary per grid for a batch import (shared decision "Batch imports"), not one per case."""
    summaries: dict[int, GridBatch] = {}
    for case_id, grid_id, case_no in zip(case_ids, grid_ids, case_nos, strict=True):
        summaries.setdefault(int(grid_id), GridBatch()).add(int(case_id), case_no)
    announce_grid_batches(session, summaries, now=now)


class GridBatch:
    """What a grid's summary of a batch says: how many cases, the first id, the first five numbers.

    Kept per grid while a file streams in, so a million-row import holds one of these per grid.
    """

    __slots__ = ("count", "first_id", "case_nos")

    def __init__(self) -> None:
        self.count, self.first_id, self.case_nos = 0, None, []

    def add(self, case_id: int, case_no: str) -> None:
        self.count += 1
        self.first_id = case_id if self.first_id is None else min(self.first_id, case_id)
        if len(self.case_nos) < 5:
            self.case_nos.append(case_no)

    def drop(self, case_no: str) -> None:
        """A case withdrawn before commit (a later row of the file repeated it)."""
        self.count -= 1
        if case_no in self.case_nos:
            self.case_nos.remove(case_no)


def announce_grid_batches(session: Session, summaries: Mapping[int, GridBatch], *, now: datetime) -> None:
    """Write the summaries of :class:`GridBatch` per grid id (grids left with no case are skipped)."""
    wanted = sorted(g for g, s in summaries.items() if s.count > 0)
    if not wanted:
        return
    codes = dict(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(wanted))).all())
    write(session, [{
        "key": f"cases_imported:{grid_id}:{summaries[grid_id].first_id}", "event": "cases_imported",
        "grid_codes": [codes[grid_id]], "audience": ["grid_leader", "member"], "member_kinds": list(MEMBER_KINDS),
        "data": {"grid_code": codes[grid_id], "count": summaries[grid_id].count,
                 "case_nos": list(summaries[grid_id].case_nos)},
        "created_at": now,
    } for grid_id in wanted])


__all__ = [
    "ANNOUNCED_STEPS", "AUDIENCES", "EVENTS", "GridBatch", "MEMBER_KINDS", "announce_batch",
    "announce_grid_batches",
    "announce_rating", "announce_step", "case_data", "case_notification", "iso", "write",
]
