"""The demo district's layout: its outline, main streets and lanes, in local metres.

Geometry is built in a local metric frame (metres east/north of the block
centre); ``pipelines.demo_generate`` rotates and projects it when writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import linemerge, polygonize, unary_union

from governance.catalog import StreetClass
from pipelines.demo_draws import jitter

FOOD_STREET = "古井街"

_HALF_WIDTH = {StreetClass.MAIN: 12.0, StreetClass.STREET: 7.0, StreetClass.LANE: 3.0}
_CLASS_ORDER = {StreetClass.MAIN: 0, StreetClass.STREET: 1, StreetClass.LANE: 2}

# An irregular outline (metres from the block centre): the block follows old
# lot lines, not a survey rectangle.
_BOUNDARY_BASE = (
    (-520, -360), (-260, -410), (80, -395), (360, -420), (530, -250), (545, 60),
    (500, 330), (230, 415), (-90, 385), (-330, 420), (-505, 250), (-540, -20),
)

# name, class, centre line (extends past the boundary and is clipped), shop density weight, trade mix
_MAJOR_STREETS = (
    ("永嘉路", StreetClass.MAIN, ((-800, -25), (-250, -10), (150, 10), (800, 35)), 3.2, "guochao"),
    ("山腰路", StreetClass.MAIN, ((-60, -700), (-80, -100), (-110, 700)), 1.6, "main"),
    (FOOD_STREET, StreetClass.STREET, ((-800, 180), (-200, 195), (250, 215), (800, 240)), 2.6, "food"),
    ("后龙街", StreetClass.STREET, ((-800, -225), (-300, -215), (200, -200), (800, -190)), 1.0, "mixed"),
    ("通港街", StreetClass.STREET, ((-370, -700), (-360, 0), (-345, 700)), 1.0, "mixed"),
    ("文昌街", StreetClass.STREET, ((290, -700), (300, 0), (320, 700)), 1.0, "mixed"),
)
_LANE_WEIGHT = 0.55

_LANE_NAMES = (
    "井仔巷", "榕树巷", "书院巷", "石狮巷", "花园巷", "竹仔巷", "打铁巷", "米仓巷", "鱼行巷",
    "染布巷", "桂香巷", "三角巷", "水沟巷", "杏仁巷", "古榕巷", "聚宝巷", "象峰巷", "甘棠巷",
    "通政巷", "金鱼巷", "胭脂巷", "旧馆巷", "芙蓉巷", "燕窝巷", "菜园巷", "后埕巷", "顶铺巷",
    "下铺巷", "东岳巷", "西隅巷", "南岳巷", "北门巷", "盐仓巷", "糖房巷", "船坞巷", "渔家巷",
    "海月巷", "潮音巷", "灯笼巷", "戏台巷", "龙眼巷", "荔枝巷", "石埕巷", "红砖巷",
)


@dataclass(frozen=True)
class Street:
    name: str
    cls: StreetClass
    line: LineString  # local metres
    weight: float
    mix: str

    @property
    def half_width(self) -> float:
        return _HALF_WIDTH[self.cls]


def _longest_part(geom) -> LineString | None:
    if geom.is_empty:
        return None
    if isinstance(geom, MultiLineString):
        geom = linemerge(geom)
    parts = list(getattr(geom, "geoms", [geom]))
    parts = [p for p in parts if isinstance(p, LineString)]
    return _west_to_east(max(parts, key=lambda p: p.length)) if parts else None


def _west_to_east(line: LineString) -> LineString:
    """Run lines west→east or south→north, whichever they mostly follow.

    Clipping may return a line in either direction depending on the GEOS
    version; shops are placed by distance along the line, so fix it.
    """
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    forward = x1 > x0 if abs(x1 - x0) >= abs(y1 - y0) else y1 > y0
    return line if forward else line.reverse()


def _boundary(rng: np.random.Generator) -> Polygon:
    base = np.asarray(_BOUNDARY_BASE, dtype=float)
    return orient(Polygon(base + rng.uniform(-10, 10, base.shape)), sign=1.0)


def _major_streets(rng: np.random.Generator, boundary: Polygon) -> list[Street]:
    streets = []
    for name, cls, pts, weight, mix in _MAJOR_STREETS:
        xy = np.asarray(pts, dtype=float)
        xy[1:-1] += rng.uniform(-8, 8, xy[1:-1].shape)  # bends, not ruler lines
        line = _longest_part(LineString(xy).intersection(boundary))
        streets.append(Street(name, cls, line, weight, mix))
    return streets


def _blocks(boundary: Polygon, majors: Sequence[Street]) -> list[Polygon]:
    noded = unary_union([s.line for s in majors] + [boundary.exterior])
    blocks = [b for b in polygonize(noded) if b.area > 5000]
    return sorted(blocks, key=lambda b: (round(b.centroid.y), round(b.centroid.x)))


def _lane_lines(rng: np.random.Generator, block: Polygon) -> list[LineString]:
    minx, miny, maxx, maxy = block.bounds
    width, height = maxx - minx, maxy - miny
    n = max(1, int(width // 170))
    xs = minx + width * (np.arange(n) + 0.5) / n + rng.uniform(-20, 20, n)
    tilts = rng.uniform(-18, 18, n)
    segments = [LineString([(x - t, miny - 50), (x + t, maxy + 50)]) for x, t in zip(xs, tilts, strict=True)]
    if height > 150 and width > 200 and rng.random() < 0.45:
        y, t = (miny + maxy) / 2 + rng.uniform(-20, 20), rng.uniform(-12, 12)
        segments.append(LineString([(minx - 50, y - t), (maxx + 50, y + t)]))
    lanes = (_longest_part(seg.intersection(block)) for seg in segments)
    return [lane for lane in lanes if lane is not None and lane.length >= 40]


def build_layout(rng: np.random.Generator) -> tuple[Polygon, list[Street]]:
    boundary = _boundary(rng)
    majors = _major_streets(rng, boundary)
    lane_lines = [lane for block in _blocks(boundary, majors) for lane in _lane_lines(rng, block)]
    # A lane squeezed against a road is no lane, and has no frontage for shops.
    roads = unary_union([m.line.buffer(m.half_width + 8.0) for m in majors])
    lane_lines = [lane for lane in lane_lines if lane.difference(roads).length >= 40.0]
    if len(lane_lines) > len(_LANE_NAMES):
        lane_lines = lane_lines[: len(_LANE_NAMES)]
    names = rng.permutation(len(_LANE_NAMES))[: len(lane_lines)]
    lanes = [
        Street(_LANE_NAMES[i], StreetClass.LANE, line, _LANE_WEIGHT, "lane")
        for i, line in zip(names, lane_lines, strict=True)
    ]
    streets = majors + lanes
    return boundary, sorted(streets, key=lambda s: (_CLASS_ORDER[s.cls], s.name))



def frontage(line: LineString, s: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Points ``offset`` metres left (+) or right (-) of ``line`` at arc lengths ``s``."""
    before = shapely.get_coordinates(shapely.line_interpolate_point(line, s - 1.0))
    after = shapely.get_coordinates(shapely.line_interpolate_point(line, s + 1.0))
    at = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    tangent = after - before
    tangent /= np.linalg.norm(tangent, axis=1)[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    return at + normal * offset[:, None]



def on_street(rng: np.random.Generator, street: Street, boundary) -> tuple[float, float]:
    s = np.asarray([rng.uniform(5.0, street.line.length - 5.0)])
    offset = np.asarray([rng.uniform(-street.half_width, street.half_width)])
    x, y = frontage(street.line, s, offset)[0]
    return jitter(rng, float(x), float(y), boundary, reach=(0.0, 0.5))

