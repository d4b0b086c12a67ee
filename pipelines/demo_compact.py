"""The demo district's compact (商居共建自治公约): permitted stall zones and service points, in local metres.

Placed on the demo's own streets, so they move with the layout: a night
market on the food street, a morning market and a weekend market on two
streets, and four service points beside the streets. Frontage zones are
not drawn: every demo shop gets the generated strip (``geo.frontage``).
Nothing here draws from the random generator, so adding it left the rest
of the demo as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, Polygon
from shapely.ops import substring

from pipelines.demo_layout import FOOD_STREET, Street

#: name, street, share of the street's length it runs from and to, half width (m), hours (OSM opening_hours)
_STALL_ZONES = (
    ("古井街夜市摊区", FOOD_STREET, 0.20, 0.75, 14.0, "Mo-Su 18:00-23:30"),
    ("后龙街早市摊区", "后龙街", 0.30, 0.60, 12.0, "Mo-Su 06:00-09:00"),
    ("文昌街周末市集", "文昌街", 0.30, 0.70, 12.0, "Sa,Su 10:00-22:00"),
)
#: name, street, share of its length, metres to the left of the centre line, hours
_SERVICE_POINTS = (
    ("永嘉国潮街区党群服务中心", "永嘉路", 0.42, 22.0, "Mo-Fr 08:30-12:00,14:00-17:30; Sa 09:00-12:00"),
    ("新时代文明实践站", "山腰路", 0.35, 20.0, "Mo-Su 09:00-21:00"),
    ("户外劳动者驿站", "永嘉路", 0.78, -22.0, "24/7"),
    ("快递小哥爱心驿站", FOOD_STREET, 0.70, -15.0, "Mo-Su 08:00-22:00"),
)


@dataclass(frozen=True)
class Zone:
    name: str
    hours: str
    shape: Polygon | Point  # local metres


def _street(streets: Sequence[Street], name: str) -> Street:
    return next(s for s in streets if s.name == name)


def build_compact(boundary: Polygon, streets: Sequence[Street]) -> tuple[list[Zone], list[Zone]]:
    """(stall zones, service points) of the demo district, inside ``boundary``."""
    stalls = []
    for name, street, start, end, half, hours in _STALL_ZONES:
        line = _street(streets, street).line
        part = substring(line, start * line.length, end * line.length)
        stalls.append(Zone(name, hours, part.buffer(half, cap_style="flat").intersection(boundary)))
    points = []
    for name, street, share, offset, hours in _SERVICE_POINTS:
        line = _street(streets, street).line
        side = line.offset_curve(offset)
        points.append(Zone(name, hours, shapely.line_interpolate_point(side, share, normalized=True)))
    if not all(boundary.covers(z.shape) for z in points):
        raise ValueError("a demo service point lies outside the district")  # the layout changed: move it
    return stalls, points
