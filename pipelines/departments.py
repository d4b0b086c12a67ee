"""Departments: the jobs behind ``linpu departments`` (see ``pipelines.commands.departments``)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from governance.db import transaction
from governance.departments import add_department, departments_frame
from governance.permissions import system_viewer


def save_department(engine: Engine, name: str, *, default_for: tuple[str, ...] = (),
                    auto_for: tuple[str, ...] = ()) -> pd.Series:
    """Create or change a department; returns its row as ``list_departments`` shows it."""
    with transaction(engine) as session:
        add_department(session, system_viewer(), name, default_for=default_for, auto_for=auto_for)
        frame = departments_frame(session)
    return frame[frame["name"] == name.strip()].iloc[0]


def list_departments(engine: Engine) -> pd.DataFrame:
    """name, default_for, auto_for, people."""
    with transaction(engine) as session:
        return departments_frame(session)
