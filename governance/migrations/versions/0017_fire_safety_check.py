"""fire safety becomes a routine check of every open shop: its schedule row and its checks due

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-05 13:00:00

Issue 20 adds the fire-safety checklist (category ``fire_exit``) to the routine
checks, every 90 days.  No column or CHECK changes: ``fire_exit`` was always an
allowed category.  What an existing database lacks is data:

- ``check_schedules``: once a database holds schedule rows it holds the whole
  schedule (``governance.schedules.seed_defaults``), so it gets the new default
  row too; an empty table stays empty (the catalogue's defaults apply);
- ``check_due``: the kept copy the loop summary counts from has no fire-safety
  rows, so every open placed shop gets one (due 90 days after its last
  fire-safety check, or after its opening); an empty copy stays empty (the
  reads count live then).

Written with the tables as they stand at this revision, not the app's models.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

CATEGORY = "fire_exit"
DEFAULT_DAYS = 90

schedules = sa.table("check_schedules", sa.column("id", sa.Integer), sa.column("category", sa.String),
                     sa.column("trade", sa.String), sa.column("interval_days", sa.Integer))
check_due = sa.table("check_due", sa.column("shop_id", sa.Integer), sa.column("category", sa.String),
                     sa.column("grid_id", sa.Integer), sa.column("last_checked_at", UTCDateTime()),
                     sa.column("due_at", UTCDateTime()), sa.column("applies_until", UTCDateTime()))
shops = sa.table("shops", sa.column("id", sa.Integer), sa.column("trade", sa.String),
                 sa.column("grid_id", sa.Integer), sa.column("opened_at", UTCDateTime()),
                 sa.column("closed_at", UTCDateTime()))
checks = sa.table("hazard_checks", sa.column("shop_id", sa.Integer), sa.column("category", sa.String),
                  sa.column("performed_at", UTCDateTime()))


def _intervals(bind) -> dict[str | None, int]:
    """trade (None: every trade) -> days of the fire-safety check, the stored rows over the default."""
    days = {None: DEFAULT_DAYS}
    for trade, interval in bind.execute(
            sa.select(schedules.c.trade, schedules.c.interval_days).where(schedules.c.category == CATEGORY)):
        days[trade] = interval
    return days


def upgrade() -> None:
    bind = op.get_bind()
    if bind.scalar(sa.select(schedules.c.id).limit(1)) is not None and bind.scalar(
            sa.select(schedules.c.id).where(schedules.c.category == CATEGORY, schedules.c.trade.is_(None))) is None:
        bind.execute(schedules.insert().values(category=CATEGORY, trade=None, interval_days=DEFAULT_DAYS))
    if bind.scalar(sa.select(check_due.c.shop_id).limit(1)) is None:
        return
    bind.execute(check_due.delete().where(check_due.c.category == CATEGORY))
    days = _intervals(bind)
    last = dict(bind.execute(
        sa.select(checks.c.shop_id, sa.func.max(checks.c.performed_at))
        .where(checks.c.category == CATEGORY).group_by(checks.c.shop_id)).all())
    rows = [
        {"shop_id": shop_id, "category": CATEGORY, "grid_id": grid_id, "last_checked_at": last.get(shop_id),
         "due_at": (last.get(shop_id) or opened_at) + timedelta(days=days.get(trade, days[None])),
         "applies_until": None}
        for shop_id, trade, grid_id, opened_at in bind.execute(
            sa.select(shops.c.id, shops.c.trade, shops.c.grid_id, shops.c.opened_at)
            .where(shops.c.closed_at.is_(None), shops.c.grid_id.is_not(None)))
    ]
    for start in range(0, len(rows), 5000):
        bind.execute(check_due.insert(), rows[start : start + 5000])


def downgrade() -> None:
    # Before this revision fire safety was no routine check: its kept rows and schedules go.
    bind = op.get_bind()
    bind.execute(check_due.delete().where(check_due.c.category == CATEGORY))
    bind.execute(schedules.delete().where(schedules.c.category == CATEGORY))
