"""The demo's clock and the seeded draws every part of it shares.

The demo is a snapshot of one instant (``DEMO_NOW``); every draw takes the one
``numpy.random.Generator`` of the run, so the output is a function of the seed.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import shapely
from shapely.geometry import Polygon

CHINA_TZ = timezone(timedelta(hours=8))
#: The "today" of the demo data; ``linpu demo load`` shifts it to the real today.
DEMO_DAY = date(2026, 11, 20)
#: The instant the data is a snapshot of: nothing happens after it.
DEMO_NOW = datetime(DEMO_DAY.year, DEMO_DAY.month, DEMO_DAY.day, 17, 0, tzinfo=CHINA_TZ)
HISTORY_DAYS = 120
WINDOW_START = DEMO_NOW - timedelta(days=HISTORY_DAYS)


def pick(rng: np.random.Generator, mix: dict):
    """One key of ``mix``, drawn with the weights its values give."""
    keys = list(mix)
    p = np.asarray([mix[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]



def stamp(t: datetime) -> str:
    return t.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def day_time(rng: np.random.Generator, day_offset: float, hours: tuple[int, int]) -> datetime:
    """A time of day in ``hours`` on the day ``day_offset`` days into the window."""
    day = (WINDOW_START + timedelta(days=float(day_offset))).replace(hour=0, minute=0, second=0, microsecond=0)
    seconds = int(rng.integers(hours[0] * 3600, hours[1] * 3600))
    return day + timedelta(seconds=seconds)



def jitter(rng: np.random.Generator, x: float, y: float, boundary: Polygon, reach=(1.0, 4.0)):
    angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(*reach)
    nx, ny = x + dist * math.cos(angle), y + dist * math.sin(angle)
    return (nx, ny) if boundary.contains(shapely.Point(nx, ny)) else (x, y)

