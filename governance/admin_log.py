"""The admin log: every administrative step, who, when, what, how many rows; append-only.

Each step writes its entry in the transaction of the change, so a step that
is rolled back leaves no entry and a step that lands always has one.  The
table refuses UPDATE and DELETE by trigger (migration 0013) on SQLite and
PostgreSQL alike.  Actions are plain words (``ACTIONS``); the dashboard shows
them through ``admin.action.<action>`` labels.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import AdminLogEntry
from governance.rows import frame_of

ACTIONS = (
    "register_applied", "grids_replaced", "district_imported", "accounts_created", "accounts_updated",
    "password_reset", "account_disabled", "account_enabled", "grids_moved", "members_imported",
    "schedule_set", "backup", "restore",
)


def shell_actor() -> str:
    """Who runs a ``linpu`` command: the operating-system account, marked as such."""
    try:
        return f"shell:{getpass.getuser()}"
    except OSError:  # no login name in a bare container
        return "shell:unknown"


def record(session: Session, *, actor: str, action: str, target: str = "", rows: int = 0, detail: str = "",
           now: datetime | None = None) -> None:
    """Add one entry in the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown admin action {action!r}")
    session.add(AdminLogEntry(at=now or datetime.now(UTC), actor=actor[:64], action=action,
                              target=target[:255], rows=int(rows), detail=detail))
    session.flush()


def entries(session: Session, *, limit: int = 200) -> pd.DataFrame:
    """The newest entries first: at (UTC), actor, action, target, rows, detail."""
    rows = session.execute(
        select(AdminLogEntry.at, AdminLogEntry.actor, AdminLogEntry.action, AdminLogEntry.target,
               AdminLogEntry.rows, AdminLogEntry.detail)
        .order_by(AdminLogEntry.id.desc()).limit(limit)
    ).all()
    return frame_of(rows, columns=["at", "actor", "action", "target", "rows", "detail"])
