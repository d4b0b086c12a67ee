"""Reading the bundled demo files: the one error they raise and their shifted times.

Shared by ``demo_load`` and the loaders of its parts (``demo_load_team``,
``demo_load_services``), so none of them imports another's private helpers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from governance.errors import LinpuError


class DemoDataError(LinpuError):
    """The bundled demo files are missing or inconsistent."""


def read_demo_csv(folder: Path, name: str) -> pd.DataFrame:
    """One demo file as text columns (empty cells stay ``""``)."""
    path = folder / name
    if not path.exists():
        raise DemoDataError(f"{path}: missing; regenerate with `linpu demo generate`")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def shifted_times(values: pd.Series, shift: timedelta) -> list[datetime | None]:
    """The column's local times with offset as UTC instants moved by ``shift``; empty cells None."""
    parsed = pd.to_datetime(values.replace("", None), utc=True)
    return [None if pd.isna(t) else (t.to_pydatetime() + shift) for t in parsed]


__all__ = ["DemoDataError", "read_demo_csv", "shifted_times"]
