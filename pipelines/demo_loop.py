"""A demo case and its loop, played up to the demo's instant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from governance.catalog import (
    DEFAULT_FOLLOW_UP_LIMIT,
    CaseKind,
    CaseState,
    Category,
    Outcome,
    Severity,
    resolve_limit,
)
from pipelines.demo_draws import DEMO_NOW, pick
from pipelines.demo_texts import DISMISS_NOTES, NOTES


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
        outcome = pick(rng, {Outcome.DUPLICATE: 45, Outcome.NO_ACTION_NEEDED: 40, Outcome.NOT_RESPONSIBLE: 15})
        events.append((t, supervisor, W, C, "dismiss", DISMISS_NOTES[outcome]))
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
    outcome = pick(rng, {Outcome.FIXED: 90, Outcome.NO_ACTION_NEEDED: 5, Outcome.NOT_RESPONSIBLE: 5})
    closer = supervisor if outcome is Outcome.NOT_RESPONSIBLE else case.reporter
    note = DISMISS_NOTES[outcome] if outcome is not Outcome.FIXED else _note(rng, "confirm")
    events.append((t, closer, F, C, "confirm", note))
    return events, outcome


def _raise_note(rng: np.random.Generator, kind: CaseKind) -> str:
    if kind is CaseKind.SERVICE_REQUEST:
        return "群众点单：商户诉求"
    if kind is CaseKind.HAZARD_CHECK:
        return "隐患排查未通过，自动立案"
    return _note(rng, "raise")


def _note(rng: np.random.Generator, action: str) -> str:
    notes = NOTES[action]
    return notes[rng.integers(len(notes))]


def run_loop(rng: np.random.Generator, case: Case, supervisors: Sequence[str]) -> None:
    """Play the case's loop up to DEMO_NOW and record where it stands."""
    events, outcome = _transitions(rng, case, supervisors)
    rating = int(pick(rng, {1: 3, 2: 5, 3: 12, 4: 35, 5: 45}))
    case.history = [e for e in events if e[0] <= DEMO_NOW]
    case.state = case.history[-1][3]
    if case.state is CaseState.CLOSED:
        case.outcome = outcome.value
        if case.kind is CaseKind.SERVICE_REQUEST:
            case.rating = str(rating if outcome is Outcome.FIXED else min(rating, 3))

