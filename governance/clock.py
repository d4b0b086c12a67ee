"""The one clock: "now" in UTC unless a caller pins it (tests, the demo, benches),
and the district's time zone (``LINPU_TIMEZONE``) every shown, printed or
exported time is converted to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

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
    """Stored instants as ISO 8601 local time with its offset (``2026-07-01T15:20:00+08:00``)."""
    stamps = local_times(values)
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S%z").astype(object)
    # strftime's %z is +0800; ISO 8601 and every reader of these files want +08:00.
    text = text.map(lambda t: f"{t[:-2]}:{t[-2:]}" if isinstance(t, str) else t)
    return text.where(stamps.notna(), "")
