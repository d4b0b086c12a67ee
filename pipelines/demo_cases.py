"""The demo's patrol findings and service requests (failed checks raise theirs in demo_checks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from governance.catalog import CaseKind, Category, Severity
from pipelines.demo_draws import DEMO_NOW, HISTORY_DAYS, day_time, jitter, pick
from pipelines.demo_layout import FOOD_STREET, Street, on_street
from pipelines.demo_loop import Case
from pipelines.demo_shops import Shop
from pipelines.demo_texts import (
    SERVICE_REQUESTS,
    SEVERITY_MIX,
    SHOP_FINDINGS,
    STREET_CATEGORY_MIX,
    STREET_FINDINGS,
    category_mix,
)

N_PATROL_CASES = 560
N_SERVICE_REQUESTS = 30


def _text(rng: np.random.Generator, table: dict, category: Category, **names) -> tuple[str, str]:
    options = table[category]
    title, description = options[rng.integers(len(options))]
    return title, description.format(**names)



def _creation_time(rng: np.random.Generator, category: Category) -> datetime:
    hours = (19, 23) if category is Category.NOISE else (8, 21)
    while True:
        t = day_time(rng, rng.uniform(0, HISTORY_DAYS), hours)
        if t < DEMO_NOW - timedelta(minutes=30):
            return t


def build_patrol_cases(rng, shops: Sequence[Shop], streets: Sequence[Street], boundary, leaders) -> list[Case]:
    risk = np.asarray([s.risk for s in shops])
    street_w = np.asarray([s.line.length * (3.0 if s.name == FOOD_STREET else 1.0) for s in streets])
    cases = []
    for _ in range(N_PATROL_CASES):
        if rng.random() < 0.8:
            shop = shops[rng.choice(len(shops), p=risk / risk.sum())]
            category = Category(pick(rng, category_mix(shop.trade)))
            title, description = _text(rng, SHOP_FINDINGS, category, shop=shop.name)
            x, y = jitter(rng, shop.x, shop.y, boundary)
            shop_id, reporter, slack = shop.shop_id, leaders[shop.leader - 1], shop.slack
        else:
            street = streets[rng.choice(len(streets), p=street_w / street_w.sum())]
            category = Category(pick(rng, STREET_CATEGORY_MIX))
            title, description = _text(rng, STREET_FINDINGS, category, street=street.name)
            x, y = on_street(rng, street, boundary)
            nearest = min(shops, key=lambda s: (s.x - x) ** 2 + (s.y - y) ** 2)
            shop_id, reporter, slack = "", leaders[nearest.leader - 1], nearest.slack
        severity = Severity(pick(rng, SEVERITY_MIX[category]))
        created = _creation_time(rng, category)
        cases.append(Case(CaseKind.PATROL, category, severity, title, description, x, y, shop_id,
                          reporter, created, slack=slack))
    return cases



def build_service_requests(rng, shops: Sequence[Shop], boundary, leaders) -> list[Case]:
    cases = []
    for _ in range(N_SERVICE_REQUESTS):
        department, category, title, description = SERVICE_REQUESTS[rng.integers(len(SERVICE_REQUESTS))]
        shop = shops[rng.integers(len(shops))]
        x, y = jitter(rng, shop.x, shop.y, boundary)
        severity = Severity(pick(rng, {Severity.LOW: 60, Severity.MEDIUM: 40}))
        created = _creation_time(rng, Category.OTHER)
        cases.append(Case(CaseKind.SERVICE_REQUEST, category, severity, title,
                          description.format(shop=shop.name, street=shop.street), x, y, shop.shop_id,
                          leaders[shop.leader - 1], created, slack=1.5, department=department))
    return cases

