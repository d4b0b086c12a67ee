"""The demo's routine hazard checks: a visit plan per shop and the cases failed checks raise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from shapely.geometry import Polygon

from governance.catalog import CaseKind, Category
from governance.checklists import CHECK_INTERVALS, categories_for_trade, checklist_for, evaluate
from pipelines.demo_draws import DEMO_NOW, HISTORY_DAYS, day_time, jitter
from pipelines.demo_loop import Case
from pipelines.demo_shops import Shop

_C = Category
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
        out.append(day_time(rng, d, (9, 18)))
        d += days * rng.uniform(0.85, 1.1)
    return [t for t in out if t <= DEMO_NOW - timedelta(hours=1)]


def _check_plan(rng: np.random.Generator, shop: Shop, neglected: bool, renovation) -> list[tuple[datetime, Category]]:
    last_day = HISTORY_DAYS - 1.0
    plan = []
    for category in categories_for_trade(shop.trade, under_renovation=renovation is not None):
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


_CHECK_LABEL = {_C.ELECTRICITY: "用电", _C.GAS: "用气", _C.CONSTRUCTION: "装修施工", _C.AMUSEMENT_RIDE: "游乐设施"}


def _check_case(rng, shop: Shop, category: Category, outcome, at: datetime, inspector: str, boundary) -> Case:
    items = {i.code: i.zh for i in checklist_for(category)}
    failed = [items[c] for c in outcome.failed]
    title = f"{_CHECK_LABEL[category]}隐患：{failed[0]}" + ("等" if len(failed) > 1 else "")
    description = f"{shop.name}{_CHECK_LABEL[category]}隐患排查未通过：{'；'.join(failed)}。"
    x, y = jitter(rng, shop.x, shop.y, boundary)
    created = at + timedelta(minutes=int(rng.integers(5, 40)))
    return Case(CaseKind.HAZARD_CHECK, category, outcome.severity, title, description, x, y, shop.shop_id,
                inspector, created, slack=shop.slack)

