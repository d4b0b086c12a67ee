"""The demo's routine hazard checks: a visit plan per shop and the cases failed checks raise.

The four checks of the seed practice draw from the run's generator (``build_checks``); the
fire-safety check (issue 20) from one of its own (``build_fire_checks``), so the rest of the demo
keeps its draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
from shapely.geometry import Polygon

from governance.catalog import CaseKind, Category
from governance.checklists import CHECK_INTERVALS, categories_for_trade, checklist_for, evaluate
from pipelines.demo_draws import DEMO_NOW, HISTORY_DAYS, day_time, jitter
from pipelines.demo_loop import Case, run_loop
from pipelines.demo_shops import Shop

_C = Category
_COMMON_FAILURES = {
    "elec.no_flying_wiring": 2.0, "elec.no_ebike_indoor": 2.0, "gas.hose": 2.0, "gas.alarm": 1.5,
    "cons.debris_cleared": 2.5, "cons.permitted_hours": 1.5, "ride.daily_log": 2.0,
    # Fire safety: boxes by the back door are common, a locked exit or someone sleeping in the shop rare.
    "fire.no_combustibles": 1.5, "fire.exits_clear": 0.6, "fire.no_sleeping": 0.3, "fire.smoke_detector": 0.6,
}
#: Shops whose fire-safety check lapsed (last visit 100–120 days ago, so overdue on the demo day).
FIRE_LAPSED_SHARE = 0.06
#: Shops visited twice in the window: a first round early on, the quarterly one later.
FIRE_TWO_ROUNDS_SHARE = 0.3


def _check_times(rng: np.random.Generator, interval: timedelta, start: float, end: float,
                 neglected: bool) -> list[datetime]:
    """Visits every ~interval between window days ``start`` and ``end``."""
    days = interval.days * rng.uniform(0.75, 1.1)
    if neglected:
        end = min(end, 25.0)  # visits stopped early: overdue by the demo day
    d = start + rng.uniform(0, min(days, max(end - start, 1.0)))
    out = []
    while d < end:
        out.append(day_time(rng, d, (9, 18)))
        d += days * rng.uniform(0.85, 1.1)
    return [t for t in out if t <= DEMO_NOW - timedelta(hours=1)]


def _check_plan(rng: np.random.Generator, shop: Shop, neglected: bool, renovation) -> list[tuple[datetime, Category]]:
    last_day = HISTORY_DAYS - 1.0
    plan = []
    for category in categories_for_trade(shop.trade, under_renovation=renovation is not None):
        if category is Category.FIRE_EXIT:
            continue  # build_fire_checks, from its own generator
        start, end = (renovation if category is Category.CONSTRUCTION else (0.0, last_day))
        times = _check_times(rng, CHECK_INTERVALS[category], start, end, neglected)
        if not times and category is Category.ELECTRICITY:
            times = [day_time(rng, rng.uniform(0, 20), (9, 18))]
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


def _fire_times(rng: np.random.Generator) -> list[datetime]:
    """A shop's fire-safety visits: the last within the 90-day interval, or lapsed before it."""
    if rng.random() < FIRE_LAPSED_SHARE:
        return [day_time(rng, rng.uniform(0, HISTORY_DAYS - 100), (9, 18))]
    last = rng.uniform(HISTORY_DAYS - 85, HISTORY_DAYS - 1.0)
    two_rounds = rng.random() < FIRE_TWO_ROUNDS_SHARE and last > 70
    earlier = [day_time(rng, rng.uniform(0, last - 60), (9, 18))] if two_rounds else []
    return [t for t in [*earlier, day_time(rng, last, (9, 18))] if t <= DEMO_NOW - timedelta(hours=1)]


def build_fire_checks(seed: int, shops: Sequence[Shop], boundary: Polygon, leaders: Sequence[str],
                      supervisors: Sequence[str], roles: Mapping[str, str]):
    """Every shop's fire-safety checks (by its grid leader) and the cases their failed items raise,
    those cases' loops already played, all from a generator of its own."""
    rng = np.random.default_rng([seed, 20])
    checks, cases = [], []
    for shop in shops:
        inspector = leaders[shop.leader - 1]
        for performed_at in _fire_times(rng):
            outcome = evaluate(_C.FIRE_EXIT, _answers(rng, _C.FIRE_EXIT, shop.risk))
            check = {"shop_id": shop.shop_id, "category": _C.FIRE_EXIT, "performed_at": performed_at,
                     "inspector": inspector, "result": outcome.result, "failed_items": outcome.failed, "case": None}
            if not outcome.passed:
                check["case"] = _check_case(rng, shop, _C.FIRE_EXIT, outcome, performed_at, inspector, boundary)
                run_loop(rng, check["case"], supervisors, roles, seed)
                cases.append(check["case"])
            checks.append(check)
    return checks, cases


_CHECK_LABEL = {_C.ELECTRICITY: "用电", _C.GAS: "用气", _C.CONSTRUCTION: "装修施工", _C.AMUSEMENT_RIDE: "游乐设施",
                _C.FIRE_EXIT: "消防安全"}


def _check_case(rng, shop: Shop, category: Category, outcome, at: datetime, inspector: str, boundary) -> Case:
    items = {i.code: i.zh for i in checklist_for(category)}
    failed = [items[c] for c in outcome.failed]
    title = f"{_CHECK_LABEL[category]}隐患：{failed[0]}" + ("等" if len(failed) > 1 else "")
    description = f"{shop.name}{_CHECK_LABEL[category]}隐患排查未通过：{'；'.join(failed)}。"
    x, y = jitter(rng, shop.x, shop.y, boundary)
    created = at + timedelta(minutes=int(rng.integers(5, 40)))
    return Case(CaseKind.HAZARD_CHECK, category, outcome.severity, title, description, x, y, shop.shop_id,
                inspector, created, slack=shop.slack)

