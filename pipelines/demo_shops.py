"""The demo's shops: where they stand along the streets, their trades, names and badges, and
which of them make more work (the food street, a few problem shops, slow patches)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from governance.catalog import Badge, Trade
from pipelines.demo_draws import pick
from pipelines.demo_layout import FOOD_STREET, Street, frontage

N_SHOPS = 350
SHOPS_PER_GRID = 10


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
        xy = frontage(street.line, s, offset)
        ok = _clear_of_roads(xy, street, streets, inner)
        s, xy = s[ok], xy[ok]
        ok = _spaced(xy, [*placed, xy_all])
        s_all, xy_all = np.concatenate([s_all, s[ok]]), np.concatenate([xy_all, xy[ok]])
    if len(s_all) < n:
        raise RuntimeError(f"no room for {n} shops along {street.name}")
    order = np.argsort(s_all[:n], kind="stable")
    placed.append(xy_all[:n])
    return s_all[:n][order], xy_all[:n][order]


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
        trade = Trade(pick(rng, _TRADE_MIX[mix]))
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

