"""Synthetic demo district: Yongjia Guochao street block (永嘉国潮街区).

Everything here is invented: the block layout, the shops, the people and the
120 days of patrol findings and hazard checks.  Only the place and its rough
position are real.  The output is a pure function of the seed: one
``numpy.random.default_rng(seed)`` drives every draw, rows are written in a
fixed order and no clock is read, so the committed ``data/demo/`` can be
checked against a fresh run byte for byte.

Geometry is built in a local metric frame (metres east/north of the block
centre), rotated so the street grid is not axis-aligned, placed on
CGCS2000 / GK CM 120E (EPSG:4549) and only converted to WGS84 when written.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import linemerge, polygonize, unary_union

from governance.catalog import (
    DEFAULT_FOLLOW_UP_LIMIT,
    Badge,
    CaseKind,
    CaseState,
    Category,
    MemberRole,
    Outcome,
    Role,
    Severity,
    StreetClass,
    Trade,
    resolve_limit,
)
from governance.checklists import CHECK_INTERVALS, categories_for_trade, checklist_for, evaluate

CHINA_TZ = timezone(timedelta(hours=8))
#: The "today" of the demo data; ``linpu demo load`` shifts it to the real today.
DEMO_DAY = date(2026, 11, 20)
#: The instant the data is a snapshot of: nothing happens after it.
DEMO_NOW = datetime(DEMO_DAY.year, DEMO_DAY.month, DEMO_DAY.day, 17, 0, tzinfo=CHINA_TZ)
HISTORY_DAYS = 120
WINDOW_START = DEMO_NOW - timedelta(days=HISTORY_DAYS)

DEMO_PASSWORD = "linpu-demo"
N_SHOPS = 350
SHOPS_PER_GRID = 10
N_PATROL_CASES = 560
N_SERVICE_REQUESTS = 30

ORIGIN_LONLAT = (118.90, 25.12)
METRIC_CRS = "EPSG:4549"
ROTATION_DEG = 14.0

BOUNDARY_PROPERTIES = {
    "name": "永嘉国潮街区",
    "street_office": "山腰街道",
    "district": "泉港区",
    "city": "泉州市",
}

SHOP_COLUMNS = ("shop_id", "name", "trade", "street", "lon", "lat", "party_member_operator", "badges")
USER_COLUMNS = ("username", "display_name", "role", "grid_index")
MEMBER_COLUMNS = ("grid_index", "member_role", "name", "phone")
CASE_COLUMNS = (
    "case_id", "kind", "category", "severity", "title", "description", "lon", "lat", "shop_id",
    "reporter", "created_at", "due_at", "state", "outcome", "department", "rating",
)
HISTORY_COLUMNS = ("case_id", "seq", "at", "actor", "from_state", "to_state", "action", "note")
CHECK_COLUMNS = (
    "check_id", "shop_id", "category", "performed_at", "inspector", "result", "failed_items", "case_id",
)

FOOD_STREET = "古井街"

# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Shops
# ---------------------------------------------------------------------------

_T = Trade
_TRADE_MIX: dict[str, dict[Trade, float]] = {
    "guochao": {_T.CRAFTS: 20, _T.CLOTHING: 17, _T.TEA: 15, _T.SNACKS: 13, _T.CATERING: 9, _T.RETAIL: 8,
                _T.CONVENIENCE: 5, _T.ENTERTAINMENT: 5, _T.PHARMACY: 3, _T.SERVICES: 3, _T.LODGING: 2},
    "main": {_T.RETAIL: 18, _T.SERVICES: 18, _T.CATERING: 14, _T.CONVENIENCE: 10, _T.SNACKS: 10,
             _T.CLOTHING: 10, _T.PHARMACY: 8, _T.TEA: 7, _T.ENTERTAINMENT: 5},
    "food": {_T.SNACKS: 36, _T.CATERING: 34, _T.TEA: 15, _T.CONVENIENCE: 5, _T.RETAIL: 5, _T.ENTERTAINMENT: 5},
    "mixed": {_T.RETAIL: 16, _T.SERVICES: 16, _T.SNACKS: 14, _T.CATERING: 12, _T.TEA: 10, _T.CRAFTS: 10,
              _T.CLOTHING: 8, _T.CONVENIENCE: 6, _T.LODGING: 4, _T.PHARMACY: 4},
    "lane": {_T.LODGING: 22, _T.SERVICES: 20, _T.CRAFTS: 15, _T.SNACKS: 15, _T.TEA: 10, _T.RETAIL: 8,
             _T.ENTERTAINMENT: 10},
    "market": {_T.SNACKS: 40, _T.RETAIL: 30, _T.CATERING: 15, _T.TEA: 15},
    "fair": {_T.CRAFTS: 60, _T.CLOTHING: 20, _T.TEA: 20},
}

# Market buildings: many stalls registered at one address (one point).
_MARKETS = (("永嘉综合市场", "永嘉路", "market"), ("国潮文创市集", FOOD_STREET, "fair"))

_NAME_PREFIXES = (
    "阿明", "阿珍", "阿华", "阿妹", "阿水", "老陈", "老林", "林记", "黄记", "陈记", "蔡记", "郭记",
    "庄记", "洪记", "永嘉", "国潮", "山腰", "泉港", "刺桐", "海丝", "惠女", "闽南", "古厝", "红砖",
    "福顺", "和兴", "金源", "春晖", "德茂", "万隆", "顺发", "佳味", "东升", "南音", "清源", "小巷",
    "街角", "潮里", "一念", "拾光", "山海", "老街", "好运", "聚福",
)
_NAME_SUFFIXES: dict[Trade, tuple[str, ...]] = {
    _T.CATERING: ("海鲜楼", "大排档", "私房菜", "酒家", "小馆", "土菜馆", "闽南菜馆", "姜母鸭", "火锅", "食堂"),
    _T.SNACKS: ("沙茶面", "面线糊", "土笋冻", "海蛎煎", "牛肉羹", "润饼菜", "卤面", "石花膏", "肉粽",
                "炸醋肉", "四果汤", "鱼丸", "扁食"),
    _T.TEA: ("茶行", "茶庄", "铁观音茶庄", "奶茶", "茶饮", "柠檬茶", "茶馆", "咖啡"),
    _T.RETAIL: ("百货", "杂货铺", "五金店", "特产店", "水果店", "干货行", "文具店", "眼镜店"),
    _T.CLOTHING: ("服饰", "汉服馆", "潮牌店", "成衣店", "鞋店", "童装", "服装店"),
    _T.CRAFTS: ("文创馆", "手作坊", "木雕坊", "陶瓷坊", "漆线雕工作室", "木偶工坊", "香铺", "刻章店",
                "书画院", "国潮礼品店"),
    _T.CONVENIENCE: ("便利店", "超市", "便民店", "生鲜超市"),
    _T.PHARMACY: ("大药房", "药店", "国医堂"),
    _T.LODGING: ("民宿", "客栈", "青年旅舍", "精品酒店"),
    _T.ENTERTAINMENT: ("KTV", "剧本杀", "桌游吧", "电玩城", "台球室", "清吧", "音乐酒馆"),
    _T.AMUSEMENT: ("儿童乐园", "旋转木马", "碰碰车乐园", "蹦床乐园", "淘气堡", "小火车乐园"),
    _T.SERVICES: ("理发店", "美甲店", "洗衣店", "手机维修", "照相馆", "修鞋配钥匙", "裁缝铺", "打印店"),
}


@dataclass
class Shop:
    shop_id: str
    name: str
    trade: Trade
    street: str
    x: float
    y: float
    party: bool
    badges: tuple[str, ...]
    risk: float = 1.0  # how often it turns up in findings
    slack: float = 1.0  # how slowly its cases are handled
    leader: int = 0  # index of the grid leader who patrols it (1-based)


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` (largest remainder)."""
    raw = total * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    short = total - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return counts


def _frontage(line: LineString, s: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Points ``offset`` metres left (+) or right (-) of ``line`` at arc lengths ``s``."""
    before = shapely.get_coordinates(shapely.line_interpolate_point(line, s - 1.0))
    after = shapely.get_coordinates(shapely.line_interpolate_point(line, s + 1.0))
    at = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    tangent = after - before
    tangent /= np.linalg.norm(tangent, axis=1)[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    return at + normal * offset[:, None]


def _clear_of_roads(xy: np.ndarray, street: Street, streets: Sequence[Street], inner: Polygon) -> np.ndarray:
    points = shapely.points(xy)
    ok = shapely.contains_xy(inner, xy[:, 0], xy[:, 1])
    for other in streets:
        if other is not street:
            ok &= shapely.distance(other.line, points) > other.half_width + 1.5
    return ok


MIN_SHOP_GAP = 5.0  # metres between shop fronts, so no two shops overlap


def _spaced(xy: np.ndarray, placed: list[np.ndarray]) -> np.ndarray:
    """Mask of candidates at least MIN_SHOP_GAP from every placed shop and earlier kept candidate."""
    taken = np.concatenate(placed) if placed else np.empty((0, 2))
    keep = np.zeros(len(xy), dtype=bool)
    for i, p in enumerate(xy):
        if len(taken) == 0 or np.hypot(*(taken - p).T).min() >= MIN_SHOP_GAP:
            keep[i] = True
            taken = np.vstack([taken, p])
    return keep


def _sites_along(rng, street: Street, streets, inner, n: int, placed: list[np.ndarray],
                 setback=(2.0, 6.0)) -> tuple[np.ndarray, np.ndarray]:
    """``n`` shop sites on either side of ``street``, sorted along it; appended to ``placed``."""
    s_all, xy_all = np.empty(0), np.empty((0, 2))
    length = street.line.length
    for _ in range(20):  # a street with no room left would otherwise loop forever
        if len(s_all) >= n:
            break
        m = 3 * n + 10
        s = rng.uniform(6.0, length - 6.0, m)
        offset = rng.choice([-1.0, 1.0], m) * (street.half_width + rng.uniform(*setback, m))
        xy = _frontage(street.line, s, offset)
        ok = _clear_of_roads(xy, street, streets, inner)
        s, xy = s[ok], xy[ok]
        ok = _spaced(xy, [*placed, xy_all])
        s_all, xy_all = np.concatenate([s_all, s[ok]]), np.concatenate([xy_all, xy[ok]])
    if len(s_all) < n:
        raise RuntimeError(f"no room for {n} shops along {street.name}")
    order = np.argsort(s_all[:n], kind="stable")
    placed.append(xy_all[:n])
    return s_all[:n][order], xy_all[:n][order]


def _pick(rng: np.random.Generator, mix: dict):
    """One key of ``mix``, drawn with the weights its values give."""
    keys = list(mix)
    p = np.asarray([mix[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def _shop_name(rng: np.random.Generator, trade: Trade, taken: set[str], market: str | None) -> str:
    suffixes = _NAME_SUFFIXES[trade]
    for _ in range(50):
        name = _NAME_PREFIXES[rng.integers(len(_NAME_PREFIXES))] + suffixes[rng.integers(len(suffixes))]
        if market:
            name = f"{name}（{market}）"
        if name not in taken:
            break
    else:
        name = f"{name}{len(taken)}号店"
    taken.add(name)
    return name


def _badges(rng: np.random.Generator, party: bool) -> tuple[str, ...]:
    # Party-member operators mostly hold their badge; ~11% of the rest earned another one.
    chosen = []
    if party and rng.random() < 0.8:
        chosen.append(Badge.PARTY_MEMBER_OPERATOR)
    others = (Badge.MODEL_SHOP, Badge.TRUSTED_SHOP, Badge.PIONEER)
    if rng.random() < (0.35 if party else 0.11):
        k = 1 + int(rng.random() < 0.25)
        chosen += [others[i] for i in sorted(rng.choice(len(others), size=k, replace=False))]
    return tuple(b.value for b in chosen)


def build_shops(rng: np.random.Generator, boundary: Polygon, streets: Sequence[Street]) -> list[Shop]:
    inner = boundary.buffer(-4.0)
    by_name = {s.name: s for s in streets}
    market_sizes = rng.integers(6, 10, len(_MARKETS))
    weights = np.asarray([s.line.length * s.weight for s in streets])
    counts = _allocate(N_SHOPS - int(market_sizes.sum()), weights)

    # (street rank, arc position, trade mix, market name, x, y)
    sites: list[tuple[int, float, str, str | None, float, float]] = []
    rank = {s.name: i for i, s in enumerate(streets)}
    placed: list[np.ndarray] = []
    for street, n in zip(streets, counts, strict=True):
        s, xy = _sites_along(rng, street, streets, inner, int(n), placed)
        sites += [(rank[street.name], si, street.mix, None, x, y) for si, (x, y) in zip(s, xy, strict=True)]
    for (market, street_name, mix), size in zip(_MARKETS, market_sizes, strict=True):
        street = by_name[street_name]
        s, xy = _sites_along(rng, street, streets, inner, 1, placed, setback=(12.0, 16.0))
        sites += [(rank[street_name], float(s[0]) + 1e-3 * k, mix, market, *xy[0]) for k in range(size)]
    sites.sort(key=lambda t: (t[0], t[1]))

    taken: set[str] = set()
    shops = []
    for i, (r, _s, mix, market, x, y) in enumerate(sites):
        trade = Trade(_pick(rng, _TRADE_MIX[mix]))
        party = bool(rng.random() < 0.08)
        name = _shop_name(rng, trade, taken, market)
        shops.append(Shop(f"YJ{i + 1:04d}", name, trade, streets[r].name, float(x), float(y), party,
                          _badges(rng, party)))
    _add_amusement(rng, shops, taken)
    return shops


def _add_amusement(rng: np.random.Generator, shops: list[Shop], taken: set[str]) -> None:
    # A handful of ride operators on the two main roads, where the crowds are.
    candidates = [i for i, s in enumerate(shops) if s.street in ("永嘉路", "山腰路") and "（" not in s.name]
    for i in sorted(rng.choice(candidates, size=int(rng.integers(4, 7)), replace=False)):
        taken.discard(shops[i].name)
        shops[i].trade = Trade.AMUSEMENT
        shops[i].name = _shop_name(rng, Trade.AMUSEMENT, taken, None)


def assign_risk(rng: np.random.Generator, shops: list[Shop], n_leaders: int) -> None:
    """Make some places worse: the food street, a few problem shops, slow patches."""
    for i, shop in enumerate(shops):
        shop.leader = min(i // SHOPS_PER_GRID + 1, n_leaders)
    slow_leaders = set(rng.choice(np.arange(1, n_leaders + 1), size=3, replace=False).tolist())
    problem = rng.random(len(shops)) < 0.06
    for shop, bad in zip(shops, problem, strict=True):
        shop.risk = 1.0
        if shop.street == FOOD_STREET:
            shop.risk *= 2.5
            shop.slack *= 1.5
        if shop.trade is Trade.ENTERTAINMENT:
            shop.risk *= 1.6
        if bad:
            shop.risk *= 4.0
        if shop.leader in slow_leaders:
            shop.slack *= 3.5


# ---------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------

_SURNAMES = ("陈", "林", "黄", "王", "李", "张", "吴", "蔡", "郑", "庄", "许", "洪", "郭", "苏",
             "施", "曾", "刘", "杨", "何", "傅", "柯", "连", "骆", "潘")
_GIVEN = ("志明", "建华", "丽娟", "秀英", "国强", "淑芬", "海燕", "伟东", "雅婷", "俊杰", "晓峰", "美玲",
          "文彬", "宏伟", "少华", "丽珍", "振发", "金水", "惠敏", "家豪", "思远", "艺芳", "明辉", "春燕",
          "清泉", "宝珠", "荣华", "德胜", "秋菊", "添福", "阿香", "佳琪", "子涵", "双喜", "玉兰", "福生")


def _person_names(rng: np.random.Generator, n: int) -> list[str]:
    combos = len(_SURNAMES) * len(_GIVEN)
    picks = rng.choice(combos, size=n, replace=False)
    return [_SURNAMES[p // len(_GIVEN)] + _GIVEN[p % len(_GIVEN)] for p in picks]


def build_people(rng: np.random.Generator, n_leaders: int) -> tuple[list[dict], list[dict]]:
    names = iter(_person_names(rng, n_leaders * 4 + 3))
    width = max(2, len(str(n_leaders)))
    users = [
        {"username": f"leader{k:0{width}d}", "display_name": next(names), "role": Role.GRID_LEADER.value,
         "grid_index": str(k)}
        for k in range(1, n_leaders + 1)
    ]
    users += [
        {"username": f"supervisor{k}", "display_name": next(names), "role": Role.SUPERVISOR.value,
         "grid_index": ""}
        for k in (1, 2)
    ]
    users.append({"username": "analyst1", "display_name": next(names), "role": Role.ANALYST.value,
                  "grid_index": ""})
    users.append({"username": "admin", "display_name": "系统管理员", "role": Role.ADMIN.value, "grid_index": ""})
    member_roles = (MemberRole.PROPERTY, MemberRole.SECURITY, MemberRole.FIRE)
    members = [
        {"grid_index": str(k), "member_role": role.value, "name": next(names),
         "phone": f"138-0000-{(k - 1) * len(member_roles) + j + 1:04d}"}
        for k in range(1, n_leaders + 1)
        for j, role in enumerate(member_roles)
    ]
    return users, members


# ---------------------------------------------------------------------------
# Case texts
# ---------------------------------------------------------------------------

_C = Category
_SHOP_FINDINGS: dict[Category, tuple[tuple[str, str], ...]] = {
    _C.FUMES: (("油烟直排", "{shop}厨房油烟未经净化直排，周边住户反映气味大。"),
               ("油烟净化器未清洗", "{shop}油烟净化器长期未清洗，排烟管道油污积聚。"),
               ("露天烧烤油烟", "{shop}在店外露天烧烤，油烟扰民。")),
    _C.GAS: (("液化气瓶未固定", "{shop}后厨液化气钢瓶未固定，且距灶具过近。"),
             ("燃气软管老化", "{shop}燃气软管老化开裂，存在泄漏风险。"),
             ("燃气报警器失效", "{shop}燃气报警器未通电，无法报警。"),
             ("气瓶存放地下室", "{shop}将备用液化气瓶存放在地下储物间。")),
    _C.ELECTRICITY: (("私拉电线", "{shop}门口私拉临时电线为灯箱供电。"),
                     ("电动车室内充电", "{shop}店内发现电动自行车充电。"),
                     ("插排串接超负荷", "{shop}多个插排串接使用，大功率电器同时运行。"),
                     ("配电箱未关闭", "{shop}配电箱门敞开，线路裸露。")),
    _C.FIRE_EXIT: (("消防通道堵塞", "{shop}后门消防通道堆放纸箱杂物。"),
                   ("安全出口上锁", "{shop}营业期间安全出口上锁。"),
                   ("灭火器过期", "{shop}灭火器压力不足，已过检验期。")),
    _C.SANITATION: (("门前卫生差", "{shop}门前垃圾未及时清理，不符合门前三包要求。"),
                    ("垃圾未分类", "{shop}厨余垃圾与其他垃圾混投。"),
                    ("污水外排", "{shop}将清洗污水直接倒入路边雨水口。")),
    _C.ROAD_OCCUPATION: (("占道经营", "{shop}在店外人行道摆放桌椅经营。"),
                         ("货物出店", "{shop}货架摆出门外，占用人行道。"),
                         ("广告牌占道", "{shop}在盲道上摆放立式广告牌。")),
    _C.NOISE: (("夜间噪音扰民", "{shop}夜间音响声音过大，附近居民投诉。"),
               ("外放音响招揽", "{shop}门口外放高音喇叭招揽顾客。")),
    _C.AMUSEMENT_RIDE: (("游乐设施无人值守", "{shop}设备运行期间操作人员离岗。"),
                        ("检验标志过期", "{shop}设备检验合格标志已过有效期。")),
    _C.CONSTRUCTION: (("装修施工超时", "{shop}装修在午休时段施工，噪音扰民。"),
                      ("装修垃圾乱堆", "{shop}装修垃圾堆放于人行道未清运。")),
    _C.OTHER: (("招牌松动", "{shop}招牌固定件松动，有坠落风险。"),
               ("遮阳棚破损", "{shop}遮阳棚支架锈蚀破损。")),
}
_STREET_FINDINGS: dict[Category, tuple[tuple[str, str], ...]] = {
    _C.ROAD_OCCUPATION: (("流动摊贩占道", "{street}有流动摊贩占道经营，影响通行。"),
                         ("车辆乱停放", "{street}机动车、电动车乱停放，占用人行道。")),
    _C.SANITATION: (("垃圾堆积", "{street}垃圾桶满溢，垃圾未及时清运。"),
                    ("路面油污", "{street}路面油污严重，行人易滑倒。")),
    _C.NOISE: (("广场舞噪音", "{street}夜间广场舞音响过大。"),
               ("夜市喧哗", "{street}夜市收摊后深夜仍有喧哗。")),
    _C.FIRE_EXIT: (("巷道堵塞", "{street}被杂物和电动车堵塞，消防车无法通行。"),),
    _C.OTHER: (("路灯不亮", "{street}路灯损坏，夜间照明不足。"),
               ("井盖破损", "{street}井盖破损松动，存在安全隐患。")),
}
_STREET_CATEGORY_MIX = {_C.ROAD_OCCUPATION: 35, _C.SANITATION: 30, _C.NOISE: 15, _C.FIRE_EXIT: 10, _C.OTHER: 10}


def _category_mix(trade: Trade) -> dict[Category, float]:
    if trade in (Trade.CATERING, Trade.SNACKS):
        return {_C.FUMES: 38, _C.GAS: 10, _C.SANITATION: 12, _C.ROAD_OCCUPATION: 15, _C.FIRE_EXIT: 10,
                _C.ELECTRICITY: 10, _C.OTHER: 5}
    if trade is Trade.TEA:
        return {_C.GAS: 15, _C.ROAD_OCCUPATION: 30, _C.SANITATION: 20, _C.ELECTRICITY: 20, _C.OTHER: 15}
    if trade is Trade.ENTERTAINMENT:
        return {_C.NOISE: 50, _C.FIRE_EXIT: 20, _C.ELECTRICITY: 15, _C.SANITATION: 10, _C.OTHER: 5}
    if trade is Trade.LODGING:
        return {_C.FIRE_EXIT: 30, _C.ELECTRICITY: 30, _C.NOISE: 20, _C.OTHER: 20}
    if trade is Trade.AMUSEMENT:
        return {_C.AMUSEMENT_RIDE: 35, _C.NOISE: 20, _C.ROAD_OCCUPATION: 20, _C.ELECTRICITY: 15, _C.OTHER: 10}
    return {_C.ROAD_OCCUPATION: 35, _C.SANITATION: 25, _C.ELECTRICITY: 20, _C.FIRE_EXIT: 10, _C.OTHER: 10}


_S = Severity
_SEVERITY_MIX: dict[Category, dict[Severity, float]] = {
    _C.GAS: {_S.MEDIUM: 30, _S.HIGH: 50, _S.URGENT: 20},
    _C.ELECTRICITY: {_S.LOW: 10, _S.MEDIUM: 50, _S.HIGH: 35, _S.URGENT: 5},
    _C.FIRE_EXIT: {_S.MEDIUM: 50, _S.HIGH: 45, _S.URGENT: 5},
    _C.AMUSEMENT_RIDE: {_S.MEDIUM: 30, _S.HIGH: 50, _S.URGENT: 20},
    _C.CONSTRUCTION: {_S.LOW: 40, _S.MEDIUM: 45, _S.HIGH: 15},
    _C.FUMES: {_S.LOW: 45, _S.MEDIUM: 50, _S.HIGH: 5},
    _C.NOISE: {_S.LOW: 60, _S.MEDIUM: 40},
    _C.SANITATION: {_S.LOW: 75, _S.MEDIUM: 25},
    _C.ROAD_OCCUPATION: {_S.LOW: 65, _S.MEDIUM: 35},
    _C.OTHER: {_S.LOW: 55, _S.MEDIUM: 40, _S.HIGH: 5},
}

# department, category, title, description
_SERVICE_REQUESTS = (
    ("城管", _C.ROAD_OCCUPATION, "请求规范流动摊贩", "商户反映{street}流动摊贩占道，影响店铺经营和通行，请求协调处理。"),
    ("城管", _C.SANITATION, "申请增设垃圾桶", "{shop}反映{street}垃圾桶数量不足，请求增设。"),
    ("城管", _C.NOISE, "反映夜间施工噪音", "{shop}反映附近夜间施工噪音，影响住店客人休息。"),
    ("市场监管所", _C.OTHER, "咨询食品经营许可证延续", "{shop}食品经营许可证即将到期，请求指导办理延续手续。"),
    ("市场监管所", _C.OTHER, "反映商品未明码标价", "{shop}反映{street}部分摊位商品未明码标价，请求规范。"),
    ("供电所", _C.ELECTRICITY, "申请线路增容", "{shop}用电负荷大，频繁跳闸，申请线路增容。"),
    ("供电所", _C.ELECTRICITY, "申请检修路灯线路", "{shop}反映{street}路灯线路老化，请求检修。"),
    ("燃气公司", _C.GAS, "申请燃气安全检查", "{shop}申请上门检查燃气管道和报警器。"),
    ("燃气公司", _C.GAS, "申请改用管道燃气", "{shop}申请由瓶装液化气改用管道燃气。"),
    ("社区居委会", _C.NOISE, "请求协调噪音纠纷", "{shop}与楼上住户因营业噪音产生纠纷，请求居委会协调。"),
    ("社区居委会", _C.OTHER, "申请党员经营户亮牌", "{shop}经营者为党员，申请挂牌亮明身份。"),
    ("社区居委会", _C.SANITATION, "申请门前三包责任牌", "{shop}请求补发门前三包责任牌。"),
)

_NOTES = {
    "raise": ("巡查发现", "现场拍照取证", "群众反映，现场核实", ""),
    "take_on": ("已通知商户限期整改", "已联系店主，约定整改时间", "已会同物业到场处置", "已开具整改通知书"),
    "resolve": ("商户已整改，拍照留存", "现场已处置完毕", "隐患已消除，待回访", "已更换相关设施"),
    "confirm": ("回访确认整改到位", "回访现场无复发", "回访商户已按要求落实"),
    "reopen": ("回访发现问题仍存在，重新处置", "回访发现整改不彻底", "回访时问题复发"),
}
_DISMISS_NOTES = {
    Outcome.DUPLICATE: "与已有案件重复，合并处理",
    Outcome.NO_ACTION_NEEDED: "现场核实无问题，无需处置",
    Outcome.NOT_RESPONSIBLE: "不属本街道职责，已移交主管部门",
}


# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------

def _stamp(t: datetime) -> str:
    return t.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def _day_time(rng: np.random.Generator, day_offset: float, hours: tuple[int, int]) -> datetime:
    """A time of day in ``hours`` on the day ``day_offset`` days into the window."""
    day = (WINDOW_START + timedelta(days=float(day_offset))).replace(hour=0, minute=0, second=0, microsecond=0)
    seconds = int(rng.integers(hours[0] * 3600, hours[1] * 3600))
    return day + timedelta(seconds=seconds)


def _working(t: datetime, prev: datetime) -> datetime:
    """Move a night-time step to the next morning (same minute); never before ``prev`` + 10 min."""
    if t.hour < 8:
        t = t.replace(hour=8)
    elif t.hour >= 22:
        t = (t + timedelta(days=1)).replace(hour=8)
    return max(t, prev + timedelta(minutes=10))


def _delay(rng: np.random.Generator, limit: timedelta, median_share: float, sigma: float,
           factor: float = 1.0) -> timedelta:
    """A lognormal delay around ``median_share`` of ``limit``, whole seconds, at least 10 minutes."""
    seconds = limit.total_seconds() * median_share * math.exp(sigma * rng.standard_normal()) * factor
    return timedelta(seconds=max(600, int(seconds)))


# ---------------------------------------------------------------------------
# Cases and their loop
# ---------------------------------------------------------------------------

@dataclass
class Case:
    kind: CaseKind
    category: Category
    severity: Severity
    title: str
    description: str
    x: float
    y: float
    shop_id: str
    reporter: str
    created_at: datetime
    slack: float = 1.0
    department: str = ""
    case_id: str = ""
    state: CaseState = CaseState.WARNING
    outcome: str = ""
    rating: str = ""
    history: list[tuple] | None = None  # (at, actor, from, to, action, note)

    @property
    def due_at(self) -> datetime:
        return self.created_at + resolve_limit(self.category, self.severity)


def _transitions(rng: np.random.Generator, case: Case, supervisors: Sequence[str]) -> tuple[list[tuple], Outcome]:
    """The case's whole intended life, some of which may lie after DEMO_NOW."""
    W, P, F, C = CaseState.WARNING, CaseState.IN_PROGRESS, CaseState.FOLLOW_UP, CaseState.CLOSED
    limit = resolve_limit(case.category, case.severity)
    supervisor = supervisors[rng.integers(len(supervisors))]
    service = case.kind is CaseKind.SERVICE_REQUEST
    handler = supervisor if service else case.reporter

    # Urgent cases are handled through the night; the rest wait for office hours.
    def step(t: datetime, delay: timedelta) -> datetime:
        return t + delay if case.severity is Severity.URGENT else _working(t + delay, t)


    t = case.created_at
    note = _raise_note(rng, case.kind)
    events = [(t, case.reporter, "", W, "raise", note)]

    if rng.random() < 0.07:
        t = step(t, _delay(rng, limit, 0.3, 0.7, case.slack))
        outcome = _pick(rng, {Outcome.DUPLICATE: 45, Outcome.NO_ACTION_NEEDED: 40, Outcome.NOT_RESPONSIBLE: 15})
        events.append((t, supervisor, W, C, "dismiss", _DISMISS_NOTES[outcome]))
        return events, outcome

    # A few cases sit untouched for weeks: the "never closes its loop" pattern.
    stuck = 25.0 if rng.random() < 0.04 * case.slack else 1.0
    t = step(t, _delay(rng, limit, 0.25, 0.8, case.slack * stuck))
    events.append((t, handler, W, P, "take_on",
                   f"派单至{case.department}，部门已接单" if service else _note(rng, "take_on")))
    reopen = rng.random() < 0.05 * min(case.slack, 2.0)
    for attempt in range(2 if reopen else 1):
        t = step(t, _delay(rng, limit, 0.6, 0.6, case.slack))
        events.append((t, handler, P, F, "resolve",
                       f"{case.department}反馈已办结" if service else _note(rng, "resolve")))
        t = step(t, _delay(rng, DEFAULT_FOLLOW_UP_LIMIT, 0.5, 0.6, case.slack))
        if reopen and attempt == 0:
            events.append((t, case.reporter, F, P, "reopen", _note(rng, "reopen")))
            t += timedelta(minutes=int(rng.integers(10, 120)))
    outcome = _pick(rng, {Outcome.FIXED: 90, Outcome.NO_ACTION_NEEDED: 5, Outcome.NOT_RESPONSIBLE: 5})
    closer = supervisor if outcome is Outcome.NOT_RESPONSIBLE else case.reporter
    note = _DISMISS_NOTES[outcome] if outcome is not Outcome.FIXED else _note(rng, "confirm")
    events.append((t, closer, F, C, "confirm", note))
    return events, outcome


def _raise_note(rng: np.random.Generator, kind: CaseKind) -> str:
    if kind is CaseKind.SERVICE_REQUEST:
        return "群众点单：商户诉求"
    if kind is CaseKind.HAZARD_CHECK:
        return "隐患排查未通过，自动立案"
    return _note(rng, "raise")


def _note(rng: np.random.Generator, action: str) -> str:
    notes = _NOTES[action]
    return notes[rng.integers(len(notes))]


def run_loop(rng: np.random.Generator, case: Case, supervisors: Sequence[str]) -> None:
    """Play the case's loop up to DEMO_NOW and record where it stands."""
    events, outcome = _transitions(rng, case, supervisors)
    rating = int(_pick(rng, {1: 3, 2: 5, 3: 12, 4: 35, 5: 45}))
    case.history = [e for e in events if e[0] <= DEMO_NOW]
    case.state = case.history[-1][3]
    if case.state is CaseState.CLOSED:
        case.outcome = outcome.value
        if case.kind is CaseKind.SERVICE_REQUEST:
            case.rating = str(rating if outcome is Outcome.FIXED else min(rating, 3))


def _jitter(rng: np.random.Generator, x: float, y: float, boundary: Polygon, reach=(1.0, 4.0)):
    angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(*reach)
    nx, ny = x + dist * math.cos(angle), y + dist * math.sin(angle)
    return (nx, ny) if boundary.contains(shapely.Point(nx, ny)) else (x, y)


def _text(rng: np.random.Generator, table: dict, category: Category, **names) -> tuple[str, str]:
    options = table[category]
    title, description = options[rng.integers(len(options))]
    return title, description.format(**names)


# ---------------------------------------------------------------------------
# Hazard checks
# ---------------------------------------------------------------------------

_COMMON_FAILURES = {
    "elec.no_flying_wiring": 2.0, "elec.no_ebike_indoor": 2.0, "gas.hose": 2.0, "gas.alarm": 1.5,
    "cons.debris_cleared": 2.5, "cons.permitted_hours": 1.5, "ride.daily_log": 2.0,
}


def _check_times(rng: np.random.Generator, interval: timedelta, start: float, end: float,
                 neglected: bool) -> list[datetime]:
    """Visits every ~interval between window days ``start`` and ``end``."""
    days = interval.days * rng.uniform(0.75, 1.1)
    if neglected:
        end = min(end, 25.0)  # visits stopped early: overdue by the demo day
    d = start + rng.uniform(0, min(days, max(end - start, 1.0)))
    out = []
    while d < end:
        out.append(_day_time(rng, d, (9, 18)))
        d += days * rng.uniform(0.85, 1.1)
    return [t for t in out if t <= DEMO_NOW - timedelta(hours=1)]


def _check_plan(rng: np.random.Generator, shop: Shop, neglected: bool, renovation) -> list[tuple[datetime, Category]]:
    last_day = HISTORY_DAYS - 1.0
    plan = []
    for category in categories_for_trade(shop.trade, under_renovation=renovation is not None):
        start, end = (renovation if category is Category.CONSTRUCTION else (0.0, last_day))
        times = _check_times(rng, CHECK_INTERVALS[category], start, end, neglected)
        if not times and category is Category.ELECTRICITY:
            times = [_day_time(rng, rng.uniform(0, 20), (9, 18))]
        plan += [(t, category) for t in times]
    return plan


def _answers(rng: np.random.Generator, category: Category, risk: float) -> dict[str, bool]:
    items = checklist_for(category)
    rates = np.asarray([0.015 * risk * _COMMON_FAILURES.get(i.code, 1.0) for i in items])
    fails = rng.random(len(items)) < np.minimum(rates, 0.6)
    return {i.code: not bool(f) for i, f in zip(items, fails, strict=True)}


def build_checks(rng, shops: Sequence[Shop], boundary: Polygon, leaders: Sequence[str]):
    neglected = rng.random(len(shops)) < 0.07
    renovating = rng.random(len(shops)) < 0.05
    checks, cases = [], []
    for shop, negl, reno in zip(shops, neglected, renovating, strict=True):
        renovation = None
        if reno:
            start = float(rng.uniform(0, 105))
            renovation = (start, min(start + float(rng.uniform(25, 60)), HISTORY_DAYS - 1.0))
        for performed_at, category in _check_plan(rng, shop, bool(negl), renovation):
            outcome = evaluate(category, _answers(rng, category, shop.risk))
            inspector = leaders[shop.leader - 1]
            check = {"shop_id": shop.shop_id, "category": category, "performed_at": performed_at,
                     "inspector": inspector, "result": outcome.result, "failed_items": outcome.failed,
                     "case": None}
            if not outcome.passed:
                check["case"] = _check_case(rng, shop, category, outcome, performed_at, inspector, boundary)
                cases.append(check["case"])
            checks.append(check)
    return checks, cases


_CHECK_LABEL = {_C.ELECTRICITY: "用电", _C.GAS: "用气", _C.CONSTRUCTION: "装修施工", _C.AMUSEMENT_RIDE: "游乐设施"}


def _check_case(rng, shop: Shop, category: Category, outcome, at: datetime, inspector: str, boundary) -> Case:
    items = {i.code: i.zh for i in checklist_for(category)}
    failed = [items[c] for c in outcome.failed]
    title = f"{_CHECK_LABEL[category]}隐患：{failed[0]}" + ("等" if len(failed) > 1 else "")
    description = f"{shop.name}{_CHECK_LABEL[category]}隐患排查未通过：{'；'.join(failed)}。"
    x, y = _jitter(rng, shop.x, shop.y, boundary)
    created = at + timedelta(minutes=int(rng.integers(5, 40)))
    return Case(CaseKind.HAZARD_CHECK, category, outcome.severity, title, description, x, y, shop.shop_id,
                inspector, created, slack=shop.slack)


# ---------------------------------------------------------------------------
# Patrol findings and service requests
# ---------------------------------------------------------------------------

def _creation_time(rng: np.random.Generator, category: Category) -> datetime:
    hours = (19, 23) if category is Category.NOISE else (8, 21)
    while True:
        t = _day_time(rng, rng.uniform(0, HISTORY_DAYS), hours)
        if t < DEMO_NOW - timedelta(minutes=30):
            return t


def build_patrol_cases(rng, shops: Sequence[Shop], streets: Sequence[Street], boundary, leaders) -> list[Case]:
    risk = np.asarray([s.risk for s in shops])
    street_w = np.asarray([s.line.length * (3.0 if s.name == FOOD_STREET else 1.0) for s in streets])
    cases = []
    for _ in range(N_PATROL_CASES):
        if rng.random() < 0.8:
            shop = shops[rng.choice(len(shops), p=risk / risk.sum())]
            category = Category(_pick(rng, _category_mix(shop.trade)))
            title, description = _text(rng, _SHOP_FINDINGS, category, shop=shop.name)
            x, y = _jitter(rng, shop.x, shop.y, boundary)
            shop_id, reporter, slack = shop.shop_id, leaders[shop.leader - 1], shop.slack
        else:
            street = streets[rng.choice(len(streets), p=street_w / street_w.sum())]
            category = Category(_pick(rng, _STREET_CATEGORY_MIX))
            title, description = _text(rng, _STREET_FINDINGS, category, street=street.name)
            x, y = _on_street(rng, street, boundary)
            nearest = min(shops, key=lambda s: (s.x - x) ** 2 + (s.y - y) ** 2)
            shop_id, reporter, slack = "", leaders[nearest.leader - 1], nearest.slack
        severity = Severity(_pick(rng, _SEVERITY_MIX[category]))
        created = _creation_time(rng, category)
        cases.append(Case(CaseKind.PATROL, category, severity, title, description, x, y, shop_id,
                          reporter, created, slack=slack))
    return cases


def _on_street(rng: np.random.Generator, street: Street, boundary) -> tuple[float, float]:
    s = np.asarray([rng.uniform(5.0, street.line.length - 5.0)])
    offset = np.asarray([rng.uniform(-street.half_width, street.half_width)])
    x, y = _frontage(street.line, s, offset)[0]
    return _jitter(rng, float(x), float(y), boundary, reach=(0.0, 0.5))


def build_service_requests(rng, shops: Sequence[Shop], boundary, leaders) -> list[Case]:
    cases = []
    for _ in range(N_SERVICE_REQUESTS):
        department, category, title, description = _SERVICE_REQUESTS[rng.integers(len(_SERVICE_REQUESTS))]
        shop = shops[rng.integers(len(shops))]
        x, y = _jitter(rng, shop.x, shop.y, boundary)
        severity = Severity(_pick(rng, {Severity.LOW: 60, Severity.MEDIUM: 40}))
        created = _creation_time(rng, Category.OTHER)
        cases.append(Case(CaseKind.SERVICE_REQUEST, category, severity, title,
                          description.format(shop=shop.name, street=shop.street), x, y, shop.shop_id,
                          leaders[shop.leader - 1], created, slack=1.5, department=department))
    return cases


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

class _Projector:
    """Local block metres → WGS84 lon/lat, through EPSG:4549."""

    def __init__(self) -> None:
        self._to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
        self._to_wgs = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
        self._e0, self._n0 = self._to_metric.transform(*ORIGIN_LONLAT)
        theta = math.radians(ROTATION_DEG)
        self._rot = np.asarray([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])

    def lonlat(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        en = xy @ self._rot.T + (self._e0, self._n0)
        lon, lat = self._to_wgs.transform(en[:, 0], en[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict]) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[c] for c in columns])
            n += 1
    return n


def _write_geojson(path: Path, features: Sequence[dict]) -> None:
    # One feature per line keeps diffs of the committed data readable.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
                    encoding="utf-8")


def _coords(lonlat: np.ndarray) -> list[list[float]]:
    return [[float(lon), float(lat)] for lon, lat in lonlat]


def _fmt(v: float) -> str:
    return f"{v:.7f}"


def _write_layout(out: Path, proj: _Projector, boundary: Polygon, streets: Sequence[Street]) -> None:
    ring = _coords(proj.lonlat(np.asarray(boundary.exterior.coords)))
    _write_geojson(out / "boundary.geojson", [
        {"type": "Feature", "properties": dict(BOUNDARY_PROPERTIES),
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
    ])
    _write_geojson(out / "streets.geojson", [
        {"type": "Feature", "properties": {"name": s.name, "class": s.cls.value},
         "geometry": {"type": "LineString", "coordinates": _coords(proj.lonlat(np.asarray(s.line.coords)))}}
        for s in streets
    ])


def _shop_rows(proj: _Projector, shops: Sequence[Shop]) -> Iterable[dict]:
    lonlat = proj.lonlat([(s.x, s.y) for s in shops])
    for shop, (lon, lat) in zip(shops, lonlat, strict=True):
        yield {"shop_id": shop.shop_id, "name": shop.name, "trade": shop.trade.value, "street": shop.street,
               "lon": _fmt(lon), "lat": _fmt(lat), "party_member_operator": "true" if shop.party else "false",
               "badges": ";".join(shop.badges)}


def _case_rows(proj: _Projector, cases: Sequence[Case]) -> Iterable[dict]:
    lonlat = proj.lonlat([(c.x, c.y) for c in cases])
    for case, (lon, lat) in zip(cases, lonlat, strict=True):
        yield {"case_id": case.case_id, "kind": case.kind.value, "category": case.category.value,
               "severity": case.severity.value, "title": case.title, "description": case.description,
               "lon": _fmt(lon), "lat": _fmt(lat), "shop_id": case.shop_id, "reporter": case.reporter,
               "created_at": _stamp(case.created_at), "due_at": _stamp(case.due_at), "state": case.state.value,
               "outcome": case.outcome, "department": case.department, "rating": case.rating}


def _history_rows(cases: Sequence[Case]) -> Iterable[dict]:
    for case in cases:
        for seq, (at, actor, src, dst, action, note) in enumerate(case.history, start=1):
            yield {"case_id": case.case_id, "seq": seq, "at": _stamp(at), "actor": actor,
                   "from_state": src.value if src else "", "to_state": dst.value, "action": action,
                   "note": note}


def _check_rows(checks: Sequence[dict]) -> Iterable[dict]:
    for i, check in enumerate(checks, start=1):
        yield {"check_id": f"K{i:05d}", "shop_id": check["shop_id"], "category": check["category"].value,
               "performed_at": _stamp(check["performed_at"]), "inspector": check["inspector"],
               "result": check["result"], "failed_items": ";".join(check["failed_items"]),
               "case_id": check["case"].case_id if check["case"] else ""}


def is_overdue(state: str, due_at: datetime, now: datetime = DEMO_NOW) -> bool:
    """Overdue here means: not yet resolved (warning or in progress) and past due."""
    return state in (CaseState.WARNING, CaseState.IN_PROGRESS) and due_at < now


def generate_demo(out_dir: Path, *, seed: int = 2026) -> dict:
    """Write the demo district into ``out_dir`` and return row counts per file and state."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    boundary, streets = build_layout(rng)
    shops = build_shops(rng, boundary, streets)
    n_leaders = math.ceil(len(shops) / SHOPS_PER_GRID)
    assign_risk(rng, shops, n_leaders)
    users, members = build_people(rng, n_leaders)
    leaders = [u["username"] for u in users if u["role"] == Role.GRID_LEADER]
    supervisors = [u["username"] for u in users if u["role"] == Role.SUPERVISOR]

    checks, check_cases = build_checks(rng, shops, boundary, leaders)
    cases = (check_cases + build_patrol_cases(rng, shops, streets, boundary, leaders)
             + build_service_requests(rng, shops, boundary, leaders))
    cases.sort(key=lambda c: (c.created_at, c.kind.value, c.shop_id, c.title))
    for i, case in enumerate(cases, start=1):
        case.case_id = f"C{i:05d}"
        run_loop(rng, case, supervisors)
    checks.sort(key=lambda c: (c["performed_at"], c["shop_id"], c["category"].value))

    proj = _Projector()
    _write_layout(out, proj, boundary, streets)
    counts = {
        "streets": len(streets),
        "shops": _write_csv(out / "shops.csv", SHOP_COLUMNS, _shop_rows(proj, shops)),
        "users": _write_csv(out / "users.csv", USER_COLUMNS, users),
        "members": _write_csv(out / "members.csv", MEMBER_COLUMNS, members),
        "cases": _write_csv(out / "cases.csv", CASE_COLUMNS, _case_rows(proj, cases)),
        "case_history": _write_csv(out / "case_history.csv", HISTORY_COLUMNS, _history_rows(cases)),
        "checks": _write_csv(out / "checks.csv", CHECK_COLUMNS, _check_rows(checks)),
    }
    for state in CaseState:
        counts[f"cases_{state.value}"] = sum(c.state is state for c in cases)
    counts["cases_overdue"] = sum(is_overdue(c.state, c.due_at) for c in cases)
    return counts
