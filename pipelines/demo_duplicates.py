"""The demo's planted duplicates (issue 19): the same problem found again near an open case.

A few recent open findings at a shop are found again a few metres away a
little later (another patrol, a neighbour's report).  Most were merged by a
supervisor: the later case closes as a duplicate of the first (steps
``merge`` and ``merged_in`` of the rules table, the last step of both, which
the load replays through ``governance.duplicates``); the rest are still
open, so filing the same finding on the leader's page shows the first case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from governance.catalog import OPEN_STATES, CaseKind, Outcome
from pipelines.demo_draws import CHINA_TZ, DEMO_NOW, jitter
from pipelines.demo_loop import Case, Walk
from pipelines.demo_texts import SHOP_FINDINGS

N_PLANTED = 6
N_MERGED = 4
#: Only findings raised this recently are still offered (LINPU_DUPLICATE_DAYS, 7 by default).
RECENT = timedelta(days=6)
MERGE_NOTE = "同一问题重复上报，合并至首报案件"


def _daytime_after(rng: np.random.Generator, last: datetime) -> datetime:
    """A time between ``last`` and four hours before the demo's instant, in office hours when one is drawn."""
    span = (DEMO_NOW - timedelta(hours=4) - last).total_seconds()
    for _ in range(50):
        t = last + timedelta(seconds=int(rng.uniform(0.05, 0.95) * span))
        if 8 <= t.astimezone(CHINA_TZ).hour < 18:
            return t
    return t


def plant_duplicates(seed: int, cases: Sequence[Case], shop_names: Mapping[str, str], boundary,
                     supervisors: Sequence[str], roles: Mapping[str, str]) -> list[Case]:
    """The planted duplicates (new cases); the originals of the merged ones gain their ``merged_in`` step.

    Draws from a generator of its own, so the rest of the demo keeps its draws.
    """
    rng = np.random.default_rng([seed, 19])
    originals = [c for c in cases if c.kind is CaseKind.PATROL and c.shop_id and c.state in OPEN_STATES
                 and DEMO_NOW - c.created_at < RECENT and DEMO_NOW - c.history[-1][0] > timedelta(hours=8)]
    picked = [originals[i] for i in sorted(rng.choice(len(originals), size=N_PLANTED, replace=False))]
    planted = []
    for n, original in enumerate(picked):
        options = [t for t in SHOP_FINDINGS[original.category] if t[0] != original.title] or SHOP_FINDINGS[original.category]
        title, description = options[rng.integers(len(options))]
        x, y = jitter(rng, original.x, original.y, boundary, reach=(6.0, 25.0))
        created = _daytime_after(rng, original.history[-1][0])
        duplicate = replace(original, title=title, description=description.format(shop=shop_names[original.shop_id]),
                            x=x, y=y, created_at=created, case_id="", state=original.state, outcome="",
                            rating="", history=None)
        walk = Walk(roles)
        walk.take("raise", created, original.reporter, "再次发现同一问题")
        if n < N_MERGED:
            supervisor = supervisors[rng.integers(len(supervisors))]
            at = created + timedelta(minutes=int(rng.integers(30, 180)))
            walk.take("merge", at, supervisor, MERGE_NOTE, outcome=Outcome.DUPLICATE)
            first = Walk(roles)
            first.state = original.state
            first.take("merged_in", at, supervisor, MERGE_NOTE)
            original.history = original.history + first.events
            duplicate.outcome = Outcome.DUPLICATE.value
        duplicate.history = walk.events
        duplicate.state = walk.state
        duplicate.duplicate_of = original
        planted.append(duplicate)
    return planted
