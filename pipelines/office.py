"""The office's daily reads and settings: the jobs behind ``linpu status``, ``linpu grids list`` and
``linpu schedules set|list`` (and the admin page's same panels)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from governance import readiness, schedules, team
from governance.admin_log import shell_actor
from governance.db import transaction


def status(engine: Engine) -> list[readiness.ReadinessItem]:
    with transaction(engine) as session:
        return readiness.readiness(session)


def grid_roster(engine: Engine) -> pd.DataFrame:
    with transaction(engine) as session:
        return team.grid_roster(session)


def schedule_list(engine: Engine) -> pd.DataFrame:
    with transaction(engine) as session:
        return schedules.schedules_frame(session)


def set_schedule(engine: Engine, category: str, days: int, *, trade: str | None = None,
                 actor: str | None = None) -> pd.DataFrame:
    """Store the interval and return the whole schedule as it now stands."""
    with transaction(engine) as session:
        schedules.set_schedule(session, category, days, trade=trade, actor=actor or shell_actor())
        return schedules.schedules_frame(session)
