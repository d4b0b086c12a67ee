"""The kept closed-work figures follow each step without recounting the grid (issue 25).

A step of one case adds its difference to the grid's row and its category's
row and recounts only the median (``governance.figures.count_step``).  After
a random sequence of raises, steps, poor and good ratings and merges, over
two grids and several categories, at times that make some cases late and
some medians the mean of two, the stored rows must equal a full recount of
the cases, figure for figure.  On SQLite and, with ``LINPU_TEST_DATABASE_URL``,
on PostGIS.
"""

from __future__ import annotations

import contextlib
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from governance.db import transaction
from governance.duplicates import merge_cases
from governance.errors import IllegalTransition
from governance.figures import FIGURES, closed_figures
from governance.models import Case, GridCategoryStats, GridStats
from governance.permissions import system_viewer
from governance.testing import IN_G001, IN_G002, seed_small_district
from governance.workflow import file_case, rate_case, transition

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # a Monday, China time 09:00
NEXT = {
    "warning": ["take_on", "dismiss", "close_not_responsible"],
    "in_progress": ["resolve", "resolve", "close_not_responsible"],
    "follow_up": ["confirm", "confirm", "reopen"],
}


def stored_and_recounted(engine) -> list[tuple]:
    """(table, key, stored figures, recounted figures) for every row that differs; empty when all agree."""
    differ = []
    with transaction(engine) as session:
        for model, by_category in ((GridStats, False), (GridCategoryStats, True)):
            keys = [model.grid_id, model.category] if by_category else [model.grid_id]
            stored = {tuple(r[: len(keys)]): list(r[len(keys):])
                      for r in session.execute(select(*keys, *(getattr(model, f) for f in FIGURES)))}
            counted = closed_figures(session, by_category=by_category)
            for key, row in counted.iterrows():
                key = key if isinstance(key, tuple) else (key,)
                want = [None if isinstance(row[f], float) and math.isnan(row[f]) else row[f] for f in FIGURES]
                if stored.get(tuple(key)) != want:
                    differ.append((model.__tablename__, key, stored.get(tuple(key)), want))
    return differ


def play(engine, rng: random.Random, steps: int, now: datetime) -> datetime:
    # Long: one random move per turn (raise, a loop step, a rating or a merge) chosen from what the case allows.
    viewer = system_viewer()
    for _ in range(steps):
        now += timedelta(hours=rng.choice([0.5, 3, 20, 70, 200]), microseconds=rng.randrange(1_000_000))
        with transaction(engine) as session:
            cases = session.execute(select(Case.id, Case.version, Case.state, Case.kind, Case.category)).all()
            open_cases = [c for c in cases if str(c.state) != "closed"]
            move = rng.random()
            if move < 0.25 or not open_cases:
                lon, lat = rng.choice([IN_G001, IN_G002])
                kind = rng.choice(["patrol", "patrol", "service_request"])
                file_case(session, viewer, kind=kind, category=rng.choice(["gas", "noise", "fumes"]),
                          severity=rng.choice(["low", "high"]), title="step", lon=lon, lat=lat, now=now)
            elif move < 0.35:
                rated = [c for c in cases if str(c.kind) == "service_request" and str(c.state) in ("follow_up", "closed")]
                if rated:
                    one = rng.choice(rated)
                    rating = rng.randint(1, 5) if str(one.state) == "follow_up" else rng.choice([1, 2, 4, 5])
                    rate_case(session, case_id=one.id, rating=rating, now=now)
            elif move < 0.42 and len(open_cases) >= 2:
                first = rng.choice(open_cases)
                same = [c for c in open_cases if c.category == first.category and c.id != first.id]
                if not same:
                    continue
                keep, duplicate = sorted([first, rng.choice(same)], key=lambda c: c.id)
                merge_cases(session, viewer, keep_id=keep.id, keep_version=keep.version, duplicate_id=duplicate.id,
                            duplicate_version=duplicate.version, now=now)
            else:
                one = rng.choice(open_cases)
                # A step the table does not offer this case is refused (the loop's own test covers those).
                with contextlib.suppress(IllegalTransition):
                    transition(session, viewer, one.id, rng.choice(NEXT[str(one.state)]),
                               expected_version=one.version, now=now)
    return now


@pytest.mark.parametrize("seed", [1, 2])
def test_the_kept_figures_after_random_steps_equal_a_full_recount(engine, seed):
    seed_small_district(engine, now=START)
    rng = random.Random(seed)
    now = START
    for _ in range(6):
        now = play(engine, rng, 40, now)
        assert stored_and_recounted(engine) == []
    with transaction(engine) as session:
        closed = session.scalar(select(GridStats.closed).order_by(GridStats.closed.desc()).limit(1))
        medians = session.scalars(select(GridCategoryStats.median_days_to_close)).all()
    assert closed >= 10  # the sequence closed (and reopened) enough cases to exercise the figures
    assert sum(m is not None for m in medians) >= 4


def test_a_step_in_a_grid_without_kept_figures_counts_the_grid_afresh(engine):
    district = seed_small_district(engine, now=START)
    viewer = system_viewer()
    with transaction(engine) as session:
        case = file_case(session, viewer, kind="patrol", category="gas", severity="low", title="old",
                         lon=IN_G001[0], lat=IN_G001[1], now=START)
        case_id = case.id
        transition(session, viewer, case_id, "dismiss", expected_version=1, now=START + timedelta(days=2))
        grid = district.grid_ids["G001"]
        session.execute(delete(GridCategoryStats).where(GridCategoryStats.grid_id == grid))
        session.execute(delete(GridStats).where(GridStats.grid_id == grid))
    with transaction(engine) as session:
        file_case(session, viewer, kind="patrol", category="noise", severity="low", title="new",
                  lon=IN_G001[0], lat=IN_G001[1], now=START + timedelta(days=3))
    with transaction(engine) as session:
        later = session.scalar(select(Case.id).where(Case.title == "new"))
        transition(session, viewer, later, "dismiss", expected_version=1, now=START + timedelta(days=4))
    assert stored_and_recounted(engine) == []
    with transaction(engine) as session:
        row = session.get(GridStats, grid)
    assert (row.total, row.closed) == (2, 2)
    assert row.median_days_to_close == pytest.approx(1.5)
