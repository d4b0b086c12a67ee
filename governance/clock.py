"""The one clock: "now" in UTC unless a caller pins it (tests, the demo, benches)."""

from __future__ import annotations

from datetime import UTC, datetime

#: The district's time zone: days in filters and times people read are in it.
DISTRICT_TIMEZONE = "Asia/Shanghai"


def clock(now: datetime | None = None) -> datetime:
    """``now`` when given, else the current time in UTC."""
    return now or datetime.now(UTC)
