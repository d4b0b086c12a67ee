"""The one clock: "now" in UTC unless a caller pins it (tests, the demo, benches),
and the district's time zone (``LINPU_TIMEZONE``) every shown, printed or
exported time is converted to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from governance.settings import get_settings

#: The default of ``LINPU_TIMEZONE``; read the setting through :func:`district_zone`.
DISTRICT_TIMEZONE = "Asia/Shanghai"


def clock(now: datetime | None = None) -> datetime:
    """``now`` when given, else the current time in UTC."""
    return now or datetime.now(UTC)


def district_zone() -> ZoneInfo:
    """The district's time zone, from ``LINPU_TIMEZONE``: days people pick and times they read are in it."""
    return ZoneInfo(get_settings().timezone)


def local_times(values) -> pd.Series:
    """Stored instants (naive ones are UTC, as SQLite returns them) as aware times in the district's zone."""
    return pd.to_datetime(pd.Series(values), utc=True).dt.tz_convert(district_zone())


def local_text(values, *, fmt: str = "%Y-%m-%d %H:%M") -> pd.Series:
    """Stored instants as local text (``fmt``); a missing time is an empty string, never ``NaT``."""
    stamps = local_times(values)
    return stamps.dt.strftime(fmt).astype(object).where(stamps.notna(), "")


def local_iso(values) -> pd.Series:
    """Stored instants as ISO 8601 local time with its offset (``2026-07-01T15:20:00+08:00``).

    Whole seconds, as the files have always carried them; a missing time is an empty string.

    Examples
    --------
    >>> local_iso(["2026-07-01 07:20:00.5", None]).tolist()
    ['2026-07-01T15:20:00+08:00', '']
    """
    stamps = local_times(values)
    # Vectorised: pandas' strftime formats one value at a time in Python, 18 s for the
    # four time columns of a city's 500,000 cases; this is numpy's formatter plus one
    # text per distinct offset (one for Asia/Shanghai, two where clocks change).
    wall = stamps.dt.tz_localize(None)
    offsets = (wall - stamps.dt.tz_convert("UTC").dt.tz_localize(None)).dt.total_seconds()
    text = np.datetime_as_string(wall.to_numpy().astype("datetime64[s]"), unit="s").astype(object)
    for offset in offsets.dropna().unique():
        minutes = int(offset) // 60
        sign = "+" if minutes >= 0 else "-"
        hours, minute = divmod(abs(minutes), 60)
        chosen = (offsets == offset).to_numpy()
        text[chosen] = text[chosen] + f"{sign}{hours:02d}:{minute:02d}"
    return pd.Series(text, index=stamps.index, dtype=object).where(stamps.notna(), "")
