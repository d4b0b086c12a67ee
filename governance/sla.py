"""Time limits (SLAs) of the loop, from the catalog defaults and the settings, and what "overdue" means.

A limit is an amount (per severity, capped per category) counted in its
category's unit (``catalog.LimitUnit``: working hours, working days or
calendar hours) on China's working calendar (``governance.working_time``).
:func:`due_time` and :func:`follow_up_due_time` are the one clock: every
stored deadline comes from them, so overdue figures, lists and SLA columns,
which all compare ``due_at`` with now, count the same working time.

``LINPU_RESOLVE_LIMIT_HOURS`` and ``LINPU_CATEGORY_LIMIT_HOURS`` override
single entries of the defaults in ``governance.catalog``; a key that is not a
severity or category is a configuration error rather than silently ignored,
because a mistyped override would otherwise leave the old deadline in force.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import and_, or_

from governance.catalog import (
    DEFAULT_CATEGORY_LIMIT_UNITS,
    DEFAULT_CATEGORY_LIMITS,
    DEFAULT_LIMIT_UNIT,
    DEFAULT_RESOLVE_LIMITS,
    CaseState,
    Category,
    LimitUnit,
    Severity,
)
from governance.errors import ConfigurationError
from governance.models import Case
from governance.settings import Settings, get_settings
from governance.working_time import WorkingCalendar


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


def limit_unit(category: Category | str, settings: Settings | None = None) -> LimitUnit:
    """How this category's limits are counted: ``LINPU_CATEGORY_LIMIT_UNITS`` over the catalog default."""
    settings = settings or get_settings()
    units = dict(DEFAULT_CATEGORY_LIMIT_UNITS)
    for key, value in settings.category_limit_units.items():
        try:
            units[Category(key)] = LimitUnit(value)
        except ValueError:
            raise ConfigurationError(
                f"LINPU_CATEGORY_LIMIT_UNITS: {key}={value!r}: categories are "
                f"{', '.join(c.value for c in Category)}; units are {', '.join(u.value for u in LimitUnit)}"
            ) from None
    return units.get(Category(category), DEFAULT_LIMIT_UNIT)


def due_time(start: datetime, category: Category | str, severity: Severity | str, *,
             calendar: WorkingCalendar, settings: Settings | None = None) -> datetime:
    """When a case raised (or reopened) at ``start`` must be resolved, counted in its category's unit."""
    return calendar.add_limit(start, resolve_limit(category, severity, settings), limit_unit(category, settings))


def due_times(created: pd.Series, categories, severities, *, calendar: WorkingCalendar,
              settings: Settings | None = None) -> pd.Series:
    """:func:`due_time` for a column of UTC instants (the batch filing path); calendar hours stay vectorised."""
    pairs = pd.Series(list(zip(categories, severities, strict=True)), index=created.index)
    due = pd.Series(pd.NaT, index=created.index, dtype=created.dtype)
    for (category, severity), where in pairs.groupby(pairs).groups.items():
        limit, unit = resolve_limit(category, severity, settings), limit_unit(category, settings)
        starts = created.loc[where]
        if unit is LimitUnit.CALENDAR_HOURS:
            due.loc[where] = starts + limit
        else:
            naive = starts.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
            deadlines = calendar.add_working_many(naive, calendar.working_span(unit, limit))
            due.loc[where] = pd.Series(pd.DatetimeIndex(deadlines).tz_localize(UTC), index=where)
    return due


def follow_up_due_time(start: datetime, category: Category | str, *, calendar: WorkingCalendar,
                       settings: Settings | None = None) -> datetime:
    """When the follow-up visit of a case resolved at ``start`` is due, in its category's unit."""
    return calendar.add_limit(start, follow_up_limit(settings), limit_unit(category, settings))


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
