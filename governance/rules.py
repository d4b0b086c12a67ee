"""The rules table of the closed loop: every step a case can take, as data.

::

    warning ──take_on / dispatch──▶ in_progress ──resolve──▶ follow_up ──confirm──▶ closed
       │                              ▲  │                     │                    │
       ├──dismiss──────────▶ closed   │  └─close_not_responsible (also from warning)▶ closed
       │                              └──reopen (follow-up found it unfixed)─┘      │
       │                              └──reopen_after_rating (rated 1–2 once closed)─┘

One row per step: the states it starts from, the state it leads to (``None``:
the state stays, as for a rating or a regridding), the outcomes it may close
with (the first is the default), the roles that may take it, and for the
requester's rating the ratings it covers.  ``action`` is what the history row
records; two steps may record the same action (a reopen after follow-up and a
reopen after a poor rating are both ``reopen``) and are told apart by their
states and rating.

The workflow (``governance.workflow``), the batch filing path, the demo
generator and the tests all read this table; a new step is a new row.  The
module is pure data and functions on it: no database, nothing of ours but the
catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from governance.catalog import CaseState, Outcome, Role

W, P, F, C = CaseState.WARNING, CaseState.IN_PROGRESS, CaseState.FOLLOW_UP, CaseState.CLOSED

#: The public (a merchant, resident or customer) who placed a request: no account, no ``Role``.
REQUESTER = "requester"
WRITERS = frozenset({Role.GRID_LEADER, Role.SUPERVISOR, Role.ADMIN})
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
#: A member raises what their routine checks and patrols find, in their grids.
RAISERS = WRITERS | {Role.MEMBER}
#: Whoever completes the last open sub-task of a case (the server then resolves the case).
SUB_TASK_OWNERS = WRITERS | {Role.MEMBER, Role.DEPARTMENT}
DEPARTMENT = frozenset({Role.DEPARTMENT})
#: A rating this low of a closed request reopens it (群众评单, the fourth order).
POOR_RATING = 2
POOR_RATINGS = tuple(range(1, POOR_RATING + 1))
ALL_RATINGS = tuple(range(1, 6))


@dataclass(frozen=True)
class Rule:
    sources: frozenset[CaseState | None]  # None: the case does not exist yet (raise)
    target: CaseState | None  # None: the state stays
    roles: frozenset[str]
    outcomes: tuple[Outcome, ...] = ()  # first is the default; empty: the step takes no outcome
    ratings: tuple[int, ...] = ()  # the requester's ratings this step covers; empty: no rating
    action: str = ""  # recorded in the history; empty: the step's own name

    @property
    def supervising(self) -> bool:
        return self.roles <= SUPERVISING


RULES: dict[str, Rule] = {
    "raise": Rule(frozenset({None}), W, RAISERS),
    # The public's order or complaint from a shop's page (governance.public_requests): a raise without an account.
    "request": Rule(frozenset({None}), W, frozenset({REQUESTER}), action="raise"),
    # 派单 and 接单 (DESIGN "Dispatch and acceptance"): a dispatched order stays a warning, its
    # department named and its acceptance clock running, until the department accepts it
    # (-> in_progress, the department's own clock starts) or returns it with a reason.
    "dispatch_order": Rule(frozenset({W}), None, SUPERVISING, action="dispatch"),
    "accept": Rule(frozenset({W}), P, DEPARTMENT),
    "return": Rule(frozenset({W}), None, DEPARTMENT),
    # A dispatch recorded as taken on at once: the histories written before departments had
    # accounts (migration 0014) and the demo's, until its generator records the accept.
    "dispatch": Rule(frozenset({W}), P, SUPERVISING),
    "take_on": Rule(frozenset({W}), P, WRITERS),
    "resolve": Rule(frozenset({P}), F, WRITERS | DEPARTMENT),
    # Made by the server when the last open sub-task is done (governance.sub_tasks): the actor is
    # whoever completed it; the history row names that sub-task.
    "resolve_by_sub_tasks": Rule(frozenset({P}), F, SUB_TASK_OWNERS, action="resolve"),
    "confirm": Rule(frozenset({F}), C, WRITERS, outcomes=(Outcome.FIXED,)),
    "reopen": Rule(frozenset({F}), P, WRITERS),
    "dismiss": Rule(frozenset({W}), C, SUPERVISING, outcomes=(Outcome.NO_ACTION_NEEDED, Outcome.DUPLICATE)),
    "close_not_responsible": Rule(frozenset({W, P}), C, SUPERVISING, outcomes=(Outcome.NOT_RESPONSIBLE,)),
    "rate": Rule(frozenset({F}), None, frozenset({REQUESTER}), ratings=ALL_RATINGS),
    "rate_closed": Rule(frozenset({C}), None, frozenset({REQUESTER}), ratings=ALL_RATINGS[POOR_RATING:],
                        action="rate"),
    "reopen_after_rating": Rule(frozenset({C}), P, frozenset({REQUESTER}), ratings=POOR_RATINGS, action="reopen"),
    # No duplicate cases (governance.duplicates): a new finding added to an open case instead of a
    # second case; a supervisor merges a later case into the first, history on both.
    "add_finding": Rule(frozenset({W, P, F}), None, WRITERS),
    "merge": Rule(frozenset({W, P, F}), C, SUPERVISING, outcomes=(Outcome.DUPLICATE,)),
    "merged_in": Rule(frozenset(CaseState), None, SUPERVISING),
    # An abusive public order is closed and hidden from its tracking page, the reason kept in the history.
    "hide": Rule(frozenset({W, P, F}), C, SUPERVISING, outcomes=(Outcome.NO_ACTION_NEEDED,)),
    # Rebuilding the grids moves a case to its new grid; only the system job (as admin) does it.
    "regrid": Rule(frozenset(CaseState), None, frozenset({Role.ADMIN})),
}


def action_of(step: str) -> str:
    """What the history records for ``step``."""
    return RULES[step].action or step


def who_may(step: str) -> str:
    """The roles that may take ``step``, in words: ``a supervisor or admin``."""
    order = [*Role, REQUESTER]
    names = [str(r) for r in order if r in RULES[step].roles]
    return "a " + (" or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1])


def leads_to(step: str, state: CaseState | None) -> CaseState | None:
    """The state after ``step`` from ``state`` (a step with no target keeps it)."""
    target = RULES[step].target
    return state if target is None else target


def rating_step(state: CaseState, rating: int) -> str | None:
    """The step a requester's ``rating`` of a case in ``state`` is, or None when no step allows it."""
    for step, rule in RULES.items():
        if state in rule.sources and rating in rule.ratings:
            return step
    return None


@dataclass(frozen=True)
class HistoryRow:
    """One row of a case's history as the table sees it; ``role`` and ``rating`` are checked when given."""

    action: str
    from_state: CaseState | None
    to_state: CaseState | None
    outcome: Outcome | None = None
    role: str | None = None
    rating: int | None = None


@dataclass(frozen=True)
class Refusal:
    """The first row of a history that the rules table refuses, and why."""

    position: int  # 0-based, in the rows given
    row: HistoryRow
    reason: str


def _matching(row: HistoryRow) -> list[str]:
    return [
        step for step, rule in RULES.items()
        if action_of(step) == row.action and row.from_state in rule.sources
        and leads_to(step, row.from_state) == row.to_state
        and (row.rating is None if not rule.ratings else row.rating in rule.ratings)
    ]


def refuse_row(row: HistoryRow) -> str | None:
    """Why the table refuses this one row on its own, or None when a step allows it."""
    known = [step for step in RULES if action_of(step) == row.action]
    if not known:
        return f"{row.action!r} is no step of the rules table"
    steps = _matching(row)
    if not steps:
        rating = "" if row.rating is None else f" rated {row.rating}"
        return (f"{row.action} does not lead from {row.from_state or 'nothing'} to {row.to_state}{rating}; "
                f"steps recorded as {row.action}: {', '.join(known)}")
    rule, step = RULES[steps[0]], steps[0]
    if row.outcome is not None and row.outcome not in rule.outcomes:
        allowed = ", ".join(rule.outcomes) or "none"
        return f"{step} may not end with outcome {row.outcome}; allowed: {allowed}"
    if row.role is not None and not any(row.role in RULES[s].roles for s in steps):
        return f"{step} is taken by {who_may(step)}, not by a {row.role}"
    return None


def check_history(rows: Iterable[HistoryRow]) -> Refusal | None:
    """The first row of one case's history (oldest first) that the table refuses, or None.

    A history starts with ``raise``; every row starts where the one before it
    ended, and is a step of the table with an outcome, role and rating that
    step allows.
    """
    state: CaseState | None = None
    for position, row in enumerate(rows):
        if row.from_state != state:
            was = state or "nothing"
            return Refusal(position, row, f"starts from {row.from_state or 'nothing'} but the case was {was}")
        reason = refuse_row(row)
        if reason is not None:
            return Refusal(position, row, reason)
        state = row.to_state
    return None


__all__ = [
    "POOR_RATING", "REQUESTER", "RULES", "SUPERVISING", "WRITERS", "HistoryRow", "Refusal", "Rule",
    "action_of", "check_history", "leads_to", "rating_step", "refuse_row", "who_may",
]
