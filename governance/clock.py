"""The one clock: "now" in UTC unless a caller pins it (tests, the demo, benches)."""

from __future__ import annotations

from datetime import UTC, datetime


def clock(now: datetime | None = None) -> datetime:
    """``now`` when given, else the current time in UTC."""
    return now or datetime.now(UTC)
