"""A demo case and its loop, played up to the demo's instant."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from governance.rules import (
    POOR_RATING,
    REQUESTER,
    RULES,
    HistoryRow,
    action_of,
    leads_to,
    refuse_row,
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
    history: list[tuple] | None = None  # (at, actor, from, to, action, note, rating)
    duplicate_of: Case | None = None  # a planted duplicate: the open case it repeats
    evidence: dict[int, tuple[str, str]] = field(default_factory=dict)  # resolve seq -> ("photo"|"reason", text)

    @property
    def due_at(self) -> datetime:
        return self.created_at + resolve_limit(self.category, self.severity)


class Walk:
    """One case's steps, each taken from the rules table: a step the table refuses from the
    current state, with that outcome, by that role or with that rating, is a generator bug."""

    def __init__(self, roles: Mapping[str, str]) -> None:
        self.roles = roles  # username -> role; "" is the requester, who has no account
        self.state: CaseState | None = None
        self.events: list[tuple] = []  # (at, actor, from, to, action, note, rating)
        self.outcome: Outcome | None = None

    def take(self, step: str, at: datetime, actor: str, note: str, *, outcome: Outcome | None = None,
             rating: int | None = None) -> None:
        rule = RULES[step]
        if outcome is None and rule.outcomes:
            outcome = rule.outcomes[0]
        role = self.roles[actor] if actor else REQUESTER
        row = HistoryRow(action_of(step), self.state, leads_to(step, self.state), outcome, role, rating)
        reason = refuse_row(row)
        if reason is not None:
            raise RuntimeError(f"demo generator: {step} from {self.state} refused by the rules table: {reason}")
        self.events.append((at, actor, self.state, row.to_state, row.action, note, rating))
        self.state = row.to_state
        if rule.target is CaseState.CLOSED:
            self.outcome = outcome


#: How a case that is not simply fixed ends: the step of the rules table that closes it.
_CLOSING_STEP = {Outcome.DUPLICATE: "dismiss", Outcome.NO_ACTION_NEEDED: "dismiss",
                 Outcome.NOT_RESPONSIBLE: "close_not_responsible"}


def _transitions(rng: np.random.Generator, case: Case, supervisors: Sequence[str], walk: Walk) -> None:
    """The case's whole intended life, some of which may lie after DEMO_NOW.

    The draws come in a fixed order whatever the case's route, so that one
    case's route does not change the next case's draws.
    """
    limit = resolve_limit(case.category, case.severity)
    supervisor = supervisors[rng.integers(len(supervisors))]
    service = case.kind is CaseKind.SERVICE_REQUEST
    handler = supervisor if service else case.reporter

    # Urgent cases are handled through the night; the rest wait for office hours.
    def step(t: datetime, delay: timedelta) -> datetime:
        return t + delay if case.severity is Severity.URGENT else _working(t + delay, t)

    t = case.created_at
    walk.take("raise", t, case.reporter, _raise_note(rng, case.kind))

    if rng.random() < 0.07:
        t = step(t, _delay(rng, limit, 0.3, 0.7, case.slack))
        outcome = pick(rng, {Outcome.DUPLICATE: 45, Outcome.NO_ACTION_NEEDED: 40, Outcome.NOT_RESPONSIBLE: 15})
        walk.take(_CLOSING_STEP[outcome], t, supervisor, DISMISS_NOTES[outcome], outcome=outcome)
        return

    # A few cases sit untouched for weeks: the "never closes its loop" pattern.
    stuck = 25.0 if rng.random() < 0.04 * case.slack else 1.0
    t = step(t, _delay(rng, limit, 0.25, 0.8, case.slack * stuck))
    handling = [(t, "dispatch", supervisor, f"派单至{case.department}，部门已接单") if service
                else (t, "take_on", handler, _note(rng, "take_on"))]
    reopen = rng.random() < 0.05 * min(case.slack, 2.0)
    for attempt in range(2 if reopen else 1):
        t = step(t, _delay(rng, limit, 0.6, 0.6, case.slack))
        handling.append((t, "resolve", handler, f"{case.department}反馈已办结" if service else _note(rng, "resolve")))
        t = step(t, _delay(rng, DEFAULT_FOLLOW_UP_LIMIT, 0.5, 0.6, case.slack))
        if reopen and attempt == 0:
            handling.append((t, "reopen", case.reporter, _note(rng, "reopen")))
            t += timedelta(minutes=int(rng.integers(10, 120)))
    outcome = pick(rng, {Outcome.FIXED: 90, Outcome.NO_ACTION_NEEDED: 5, Outcome.NOT_RESPONSIBLE: 5})
    confirm_note = _note(rng, "confirm") if outcome is Outcome.FIXED else DISMISS_NOTES[outcome]
    if outcome is Outcome.NO_ACTION_NEEDED:
        # Found on site to need nothing: dismissed as a warning, when it would have been taken on.
        walk.take("dismiss", handling[0][0], supervisor, confirm_note, outcome=outcome)
        return
    for at, name, actor, note in handling:
        if outcome is Outcome.NOT_RESPONSIBLE and name == "resolve":
            # Found while handling it to be another body's work: closed instead of resolved.
            walk.take("close_not_responsible", at, supervisor, confirm_note, outcome=outcome)
            return
        walk.take(name, at, actor, note)
    walk.take("confirm", t, case.reporter, confirm_note)


def _raise_note(rng: np.random.Generator, kind: CaseKind) -> str:
    if kind is CaseKind.SERVICE_REQUEST:
        return "群众点单：商户诉求"
    if kind is CaseKind.HAZARD_CHECK:
        return "隐患排查未通过，自动立案"
    return _note(rng, "raise")


def _note(rng: np.random.Generator, action: str) -> str:
    notes = NOTES[action]
    return notes[rng.integers(len(notes))]


def run_loop(rng: np.random.Generator, case: Case, supervisors: Sequence[str], roles: Mapping[str, str],
             seed: int) -> None:
    """Play the case's loop up to DEMO_NOW and record where it stands."""
    walk = Walk(roles)
    _transitions(rng, case, supervisors, walk)
    rating = int(pick(rng, {1: 3, 2: 5, 3: 12, 4: 35, 5: 45}))
    if case.kind is CaseKind.SERVICE_REQUEST and walk.state is CaseState.CLOSED:
        if walk.outcome is not Outcome.FIXED:
            rating = min(rating, 3)
        rating = _rated(walk, case, rating, supervisors, seed)
    case.history = [e for e in walk.events if e[0] <= DEMO_NOW]
    case.state = case.history[-1][3]
    if case.state is CaseState.CLOSED:
        case.outcome = walk.outcome.value
        if case.kind is CaseKind.SERVICE_REQUEST:
            case.rating = str(rating)


def _rated(walk: Walk, case: Case, rating: int, supervisors: Sequence[str], seed: int) -> int:
    """The requester's rating of a closed request; a poor one reopens it (the four-order rule), and
    the request is handled again and rated anew.  Returns the rating the request ends with.

    The second round draws from a generator of its own (seeded by the run's seed and the case), so
    that it does not shift the draws of every later case.
    """
    if rating > POOR_RATING:
        return rating
    closed_at = walk.events[-1][0]
    if closed_at >= DEMO_NOW:
        # No time left to reopen it by the demo's instant: the requester is taken to be content.
        return POOR_RATING + 1
    rng = np.random.default_rng([seed, int(case.case_id[1:])])
    t = min(closed_at + _delay(rng, timedelta(days=1), 0.5, 0.5), closed_at + (DEMO_NOW - closed_at) / 2)
    walk.take("reopen_after_rating", t, "", f"群众评单不满意（{rating}/5），重新处置", rating=rating)
    handler = supervisors[rng.integers(len(supervisors))]
    limit = resolve_limit(case.category, case.severity)
    t = _working(t + _delay(rng, limit, 0.6, 0.6, case.slack), t)
    walk.take("resolve", t, handler, f"{case.department}重新办理并反馈")
    t = _working(t + _delay(rng, DEFAULT_FOLLOW_UP_LIMIT, 0.5, 0.6, case.slack), t)
    walk.take("confirm", t, case.reporter, _note(rng, "confirm"))
    return int(pick(rng, {3: 12, 4: 35, 5: 45}))
