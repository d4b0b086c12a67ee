"""Clock events and the daily digest: outbox rows the sender's own scan writes.

Nothing changes when a case falls due; the sender scans the clock each pass
and writes a notification per event, keyed so that a second write is
ignored by the database (``governance.outbox.write``):

- ``due_soon:<case>:<deadline>`` — an open case due within the setting's hours;
- ``overdue:<case>:<deadline>`` — past its deadline (``governance.sla``);
- ``check_due_tomorrow:<shop>:<category>:<local date>`` — a routine check
  falling due on the district's next day;
- ``daily_digest:<local date>:<user>`` — each grid leader's open, due-today
  and overdue counts, once a day from the digest hour.

The deadline is part of a case's keys: a reopened case gets a fresh deadline
and so, once, its own due-soon and overdue notices.  Days are the district's
(``LINPU_TIMEZONE``); everything stored stays UTC.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from governance.catalog import MEMBER_KIND_OF, OPEN_STATES, CaseState, MemberRole
from governance.clock import district_zone
from governance.grids import current_generation_id
from governance.models import Case, CheckDue, Grid, GridMember, Shop, User
from governance.outbox import case_notification, iso, write
from governance.sla import overdue_condition

#: Overdue cases older than this are not announced again after a long outage (each was once).
OVERDUE_LOOKBACK = timedelta(days=7)
W, P, F = CaseState.WARNING, CaseState.IN_PROGRESS, CaseState.FOLLOW_UP


def local_day(now: datetime) -> tuple[datetime, datetime]:
    """The district's day holding ``now``: its start and the next day's start, as aware datetimes."""
    zone = district_zone()
    start = datetime.combine(now.astimezone(zone).date(), time(), zone)
    return start, datetime.combine(start.date() + timedelta(days=1), time(), zone)


def write_clock_events(session: Session, now: datetime, *, due_soon: timedelta) -> None:
    """Write the due-soon, overdue and check-due-tomorrow notices not yet written."""
    rows = []
    soon = session.scalars(select(Case).where(
        Case.state.in_([W, P]), Case.due_at > now, Case.due_at <= now + due_soon)).all()
    for item in soon:
        rows.append(case_notification(session, "due_soon", item, f"due_soon:{item.id}:{iso(item.due_at)}", now))
    late = session.scalars(select(Case).where(overdue_condition(now), or_(
        and_(Case.state.in_([W, P]), Case.due_at > now - OVERDUE_LOOKBACK),
        and_(Case.state == F, Case.follow_up_due_at > now - OVERDUE_LOOKBACK)))).all()
    for item in late:
        deadline = item.follow_up_due_at if item.state == F else item.due_at
        rows.append(case_notification(session, "overdue", item, f"overdue:{item.id}:{iso(deadline)}", now,
                                      {"deadline": iso(deadline)}))
    rows.extend(_checks_due_tomorrow(session, now))
    write(session, rows)


def _checks_due_tomorrow(session: Session, now: datetime) -> list[dict]:
    _, start = local_day(now)
    end = start + timedelta(days=1)
    due = session.execute(
        select(CheckDue.shop_id, CheckDue.category, CheckDue.due_at, Shop.shop_code, Shop.name, Grid.code)
        .join(Shop, Shop.id == CheckDue.shop_id).join(Grid, Grid.id == CheckDue.grid_id)
        .where(CheckDue.due_at >= start, CheckDue.due_at < end,
               or_(CheckDue.applies_until.is_(None), CheckDue.applies_until >= CheckDue.due_at))
    ).all()
    return [
        {"key": f"check_due_tomorrow:{shop_id}:{category}:{start.date().isoformat()}",
         "event": "check_due_tomorrow", "grid_codes": [grid_code], "audience": ["grid_leader", "member"],
         "member_kinds": [MEMBER_KIND_OF[category].value], "created_at": now,
         "data": {"shop_code": shop_code, "shop": shop_name, "category": str(category), "due_at": iso(due_at),
                  "grid_code": grid_code}}
        for shop_id, category, due_at, shop_code, shop_name, grid_code in due
    ]


def write_digests(session: Session, now: datetime, *, digest_hour: int) -> None:
    """Each grid leader's digest of the district's day (from ``digest_hour`` local time), once a day."""
    if now.astimezone(district_zone()).hour < digest_hour:
        return
    generation = current_generation_id(session)
    if generation is None:
        return
    day_start, day_end = local_day(now)
    leaders = session.execute(
        select(User.id, User.display_name, Grid.id, Grid.code)
        .join(GridMember, GridMember.user_id == User.id).join(Grid, Grid.id == GridMember.grid_id)
        .where(GridMember.role == MemberRole.LEADER, Grid.generation_id == generation, User.is_active)
        .order_by(User.id, Grid.code)
    ).all()
    if not leaders:
        return
    counts = {
        grid_id: (open_, today, late)
        for grid_id, open_, today, late in session.execute(
            select(Case.grid_id, func.count(),
                   func.sum(case((and_(Case.state.in_([W, P]), Case.due_at >= now, Case.due_at < day_end), 1), else_=0)),
                   func.sum(case((overdue_condition(now), 1), else_=0)))
            .where(Case.state.in_(OPEN_STATES), Case.grid_id.in_({row[2] for row in leaders}))
            .group_by(Case.grid_id)
        ).all()
    }
    digests: dict[int, dict] = {}
    for user_id, name, grid_id, code in leaders:
        digest = digests.setdefault(user_id, {
            "key": f"daily_digest:{day_start.date().isoformat()}:{user_id}", "event": "daily_digest",
            "grid_codes": [], "audience": ["grid_leader"], "member_kinds": [], "created_at": now,
            "data": {"leader": name, "date": day_start.date().isoformat(), "grids": []},
        })
        open_, today, late = counts.get(grid_id, (0, 0, 0))
        digest["grid_codes"].append(code)
        digest["data"]["grids"].append({"grid_code": code, "open": int(open_), "due_today": int(today or 0),
                                        "overdue": int(late or 0)})
    write(session, digests.values())


__all__ = ["OVERDUE_LOOKBACK", "local_day", "write_clock_events", "write_digests"]
