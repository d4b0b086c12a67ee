"""Routine-check schedules: how often each check category (per trade, or for every trade) falls due.

The rows live in ``check_schedules`` and ``check_due.check_intervals`` reads
them (a trade's row beats the category's, which beats the catalogue's
default).  The first change of a database stores the catalogue's defaults as
the starting rows, so the table then holds the whole schedule; every change
recomputes the kept checks-due and writes the admin log.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import admin_log
from governance.catalog import Category, Trade
from governance.check_due import refresh_check_due
from governance.checklists import CHECK_INTERVALS
from governance.errors import ValidationError
from governance.models import CheckSchedule

#: The longest interval accepted (a check at least every two years).
MAX_DAYS = 730


def default_schedules() -> list[tuple[str, str | None, int]]:
    """The catalogue's intervals, (category, None, days): the starting rows."""
    return [(str(category), None, interval.days) for category, interval in CHECK_INTERVALS.items()]


def seed_defaults(session: Session) -> int:
    """Store the catalogue's defaults when no schedule is stored; how many rows were added."""
    if session.scalar(select(CheckSchedule.id).limit(1)) is not None:
        return 0
    rows = default_schedules()
    session.add_all(CheckSchedule(category=c, trade=t, interval_days=d) for c, t, d in rows)
    session.flush()
    return len(rows)


def set_schedule(session: Session, category: str, days: int, *, trade: str | None = None, actor: str) -> None:
    """Check ``category`` (of ``trade``'s shops only, when given) every ``days`` days."""
    routine = [str(c) for c in CHECK_INTERVALS]
    if category not in routine:
        raise ValidationError(f"field category: {category!r} is not a routine check ({', '.join(routine)}) "
                              "/ 不是例行检查类别")
    if trade is not None and trade not in {t.value for t in Trade}:
        raise ValidationError(f"field trade: {trade!r} is not a trade ({', '.join(t.value for t in Trade)}) "
                              "/ 行业无效")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"field days: {days} is not between 1 and {MAX_DAYS} / 天数应在 1 到 {MAX_DAYS} 之间")
    seed_defaults(session)
    row = session.scalar(select(CheckSchedule).where(
        CheckSchedule.category == Category(category),
        CheckSchedule.trade.is_(None) if trade is None else CheckSchedule.trade == Trade(trade)))
    if row is None:
        session.add(CheckSchedule(category=Category(category), trade=None if trade is None else Trade(trade),
                                  interval_days=days))
    else:
        row.interval_days = days
    session.flush()
    refresh_check_due(session)
    admin_log.record(session, actor=actor, action="schedule_set",
                     target=f"{category}" + (f" ({trade})" if trade else ""), rows=1, detail=f"every {days} days")


def schedules_frame(session: Session) -> pd.DataFrame:
    """category, trade ('' for every trade), days, stored (False: the catalogue's default in use)."""
    stored = {(str(c), None if t is None else str(t)): d for c, t, d in session.execute(
        select(CheckSchedule.category, CheckSchedule.trade, CheckSchedule.interval_days))}
    rows = [(c, "", stored.get((c, None), d), (c, None) in stored) for c, _, d in default_schedules()]
    rows += [(c, t, d, True) for (c, t), d in sorted(stored.items(), key=lambda item: (item[0][0], item[0][1] or ""))
             if t is not None]
    return pd.DataFrame(rows, columns=["category", "trade", "days", "stored"]).sort_values(
        ["category", "trade"], ignore_index=True)
