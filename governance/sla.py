"""Time limits (SLAs) of the loop, from the catalog defaults and the settings, and what "overdue" means.

``LINPU_RESOLVE_LIMIT_HOURS`` and ``LINPU_CATEGORY_LIMIT_HOURS`` override
single entries of the defaults in ``governance.catalog``; a key that is not a
severity or category is a configuration error rather than silently ignored,
because a mistyped override would otherwise leave the old deadline in force.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_

from governance.catalog import (
    DEFAULT_CATEGORY_LIMITS,
    DEFAULT_RESOLVE_LIMITS,
    CaseState,
    Category,
    Severity,
)
from governance.errors import ConfigurationError
from governance.models import Case
from governance.settings import Settings, get_settings


def _overrides(raw: dict[str, float], enum, setting: str) -> dict:
    parsed = {}
    for key, hours in raw.items():
        try:
            member = enum(key)
        except ValueError:
            allowed = ", ".join(m.value for m in enum)
            raise ConfigurationError(f"{setting}: {key!r} is not one of {allowed}") from None
        if hours <= 0:
            raise ConfigurationError(f"{setting}: {key} must be a positive number of hours, got {hours}")
        parsed[member] = timedelta(hours=hours)
    return parsed


def resolve_limits(settings: Settings | None = None) -> tuple[dict[Severity, timedelta], dict[Category, timedelta]]:
    settings = settings or get_settings()
    severity = {**DEFAULT_RESOLVE_LIMITS, **_overrides(
        settings.resolve_limit_hours, Severity, "LINPU_RESOLVE_LIMIT_HOURS")}
    category = {**DEFAULT_CATEGORY_LIMITS, **_overrides(
        settings.category_limit_hours, Category, "LINPU_CATEGORY_LIMIT_HOURS")}
    return severity, category


def resolve_limit(category: Category | str, severity: Severity | str, settings: Settings | None = None) -> timedelta:
    """Time allowed from raising a case to resolving it: the smaller of severity and category limits."""
    by_severity, by_category = resolve_limits(settings)
    limit = by_severity[Severity(severity)]
    cap = by_category.get(Category(category))
    return min(limit, cap) if cap else limit


def follow_up_limit(settings: Settings | None = None) -> timedelta:
    """Time allowed for the follow-up visit after a case is resolved."""
    return timedelta(hours=(settings or get_settings()).follow_up_hours)


def overdue_condition(now: datetime):
    """SQL truth of "this case is past its deadline" at ``now``."""
    return or_(
        and_(Case.state.in_([CaseState.WARNING, CaseState.IN_PROGRESS]), Case.due_at < now),
        and_(Case.state == CaseState.FOLLOW_UP, Case.follow_up_due_at < now),
    )


def is_overdue(state: CaseState | str, due_at: datetime, follow_up_due_at: datetime | None,
               now: datetime) -> bool:
    """The same truth as :func:`overdue_condition`, for one case held in memory."""
    state = CaseState(state)
    if state in (CaseState.WARNING, CaseState.IN_PROGRESS):
        return due_at < now
    return state == CaseState.FOLLOW_UP and follow_up_due_at is not None and follow_up_due_at < now
