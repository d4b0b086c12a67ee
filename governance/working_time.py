"""China's working calendar and the working-time clock every time limit runs on.

A day is a working day when the State Council's holiday schedule says so: a
weekday that is not a public holiday, or a weekend day made a working day
(调休 make-up day).  The schedules come from the ``chinese_calendar`` library
(maintained, one release per published schedule) and, for a year the library
does not know yet, from the ``calendar_days`` table that ``linpu calendar
import`` fills; an imported year replaces the library's for that year.  For
a year neither knows, the clock counts weekends only, and
:func:`calendar_coverage` says from which day that is so.

Working time is counted in the periods of a working day (``LINPU_WORKING_HOURS``,
China time); ``add_limit`` turns a limit and its unit (``catalog.LimitUnit``)
into a deadline.  Instants go in and come out in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import chinese_calendar
import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.catalog import LimitUnit
from governance.clock import district_zone
from governance.errors import ConfigurationError
from governance.models import CalendarDay
from governance.settings import Settings, get_settings

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
#: No limit runs longer than this many days; a longer search means the calendar has no working time.
_MAX_DAYS = 3660


def parse_working_hours(text: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,14:00-18:00"`` as ordered, non-overlapping (start, end) pairs."""
    periods = []
    for part in text.split(","):
        match = _PERIOD.match(part)
        if not match:
            raise ConfigurationError(f"LINPU_WORKING_HOURS: {part.strip()!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ConfigurationError(f"LINPU_WORKING_HOURS: {part.strip()!r} is not a time of day")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        periods.append((time(h1, m1), end))
    periods.sort()
    for (_, e1), (s2, _) in zip(periods, periods[1:], strict=False):
        if s2 < e1:
            raise ConfigurationError(f"LINPU_WORKING_HOURS: {text!r} has overlapping periods")
    if any(start >= end for start, end in periods):
        raise ConfigurationError(f"LINPU_WORKING_HOURS: {text!r} has a period that ends before it starts")
    return tuple(periods)


@lru_cache(maxsize=1)
def library_days() -> tuple[dict[date, bool], frozenset[int]]:
    """The library's special days (True: make-up working day, False: holiday) and the years it knows."""
    special = {day: False for day in chinese_calendar.holidays}
    special.update({day: True for day in chinese_calendar.workdays})
    return special, frozenset(day.year for day in chinese_calendar.holidays)


@dataclass(frozen=True)
class CalendarCoverage:
    """Which years the holiday calendar knows, and from when the clock counts weekends only."""

    library_years: tuple[int, int]
    imported_years: tuple[int, ...]
    known_years: frozenset[int]

    @property
    def last_known_year(self) -> int:
        return max(self.known_years)

    @property
    def weekends_only_from(self) -> date:
        """The first day past every known calendar."""
        return date(self.last_known_year + 1, 1, 1)

    def covers(self, day: date) -> bool:
        return day.year in self.known_years

    def ends_within(self, today: date, days: int) -> bool:
        """True when weekends-only counting starts within ``days`` of ``today`` (time to import a year)."""
        return (self.weekends_only_from - today).days <= days

    def unknown_years(self, start: date, end: date) -> list[int]:
        """Years between two days (inclusive) that no calendar knows: weekends only there."""
        return [year for year in range(start.year, end.year + 1) if year not in self.known_years]


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (special days over weekdays) and working periods: the clock of every limit."""

    special: dict[date, bool]
    coverage: CalendarCoverage
    periods: tuple[tuple[time, time], ...]

    def is_working_day(self, day: date) -> bool:
        found = self.special.get(day)
        return day.weekday() < 5 if found is None else found

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (7.5 hours by default)."""
        return sum((_span(start, end) for start, end in self.periods), timedelta())

    def add_working(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of working time after ``start`` (UTC in, UTC out).

        Time before the first period, at lunch, after hours and on rest days does
        not count; a deadline that uses up a period ends at its end (12:00, 18:00).
        """
        remaining = duration
        zone = district_zone()
        cursor = start.astimezone(zone)
        day = cursor.date()
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                for begin_at, end_at in self.periods:
                    begin = max(cursor, datetime.combine(day, begin_at, zone))
                    end = datetime.combine(day, end_at, zone)
                    if begin >= end:
                        continue
                    if remaining <= end - begin:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= end - begin
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), zone)
        raise ConfigurationError(f"no working time within {_MAX_DAYS} days of {start:%Y-%m-%d}: check the calendar")

    def working_span(self, unit: LimitUnit | str, limit: timedelta) -> timedelta:
        """The working time a limit in working days or hours stands for (see :meth:`add_limit`)."""
        if LimitUnit(unit) is LimitUnit.WORKING_HOURS:
            return limit
        whole_days = limit // timedelta(days=1)
        return whole_days * self.day_length + (limit - timedelta(days=whole_days))

    def add_working_many(self, starts: np.ndarray, duration: timedelta) -> np.ndarray:
        """:meth:`add_working` for many UTC instants (``datetime64[ns]``) at once, the same instants out.

        The working periods from the first start's day on are laid end to end as one
        running total of working time; each deadline is where the total reaches its
        start's total plus ``duration``.  A start whose deadline lies past the laid-out
        year, or a zero duration (which :meth:`add_working` moves to the next period),
        is counted one by one.
        """
        starts = np.asarray(starts, dtype="datetime64[ns]")
        if len(starts) == 0 or duration <= timedelta(0):
            return np.array([np.datetime64(self.add_working(_utc(s), duration).replace(tzinfo=None), "ns")
                             for s in starts], dtype="datetime64[ns]")
        begins, ends = self._periods(_utc(starts.min()).astimezone(district_zone()).date(),
                                     _utc(starts.max()).astimezone(district_zone()).date() + timedelta(days=366))
        lengths = ends - begins
        total_end = np.cumsum(lengths)
        total_begin = total_end - lengths
        s = starts.astype(np.int64)
        k = np.searchsorted(begins, s, side="right") - 1
        inside = (k >= 0) & (s < ends[np.maximum(k, 0)])
        before = np.where(k >= 0, np.where(inside, total_begin[np.maximum(k, 0)] + (s - begins[np.maximum(k, 0)]),
                                           total_end[np.maximum(k, 0)]), 0)
        target = before + duration // timedelta(microseconds=1) * 1000
        j = np.searchsorted(total_end, target, side="left")
        out = np.empty(len(s), dtype="datetime64[ns]")
        beyond = j >= len(ends)
        fits = ~beyond
        out[fits] = (ends[j[fits]] - (total_end[j[fits]] - target[fits])).astype("datetime64[ns]")
        for i in np.flatnonzero(beyond):
            out[i] = np.datetime64(self.add_working(_utc(starts[i]), duration).replace(tzinfo=None), "ns")
        return out

    def _periods(self, first: date, last: date) -> tuple[np.ndarray, np.ndarray]:
        """Begin and end (UTC nanoseconds) of every working period from ``first`` to ``last``."""
        zone = district_zone()
        begins, ends = [], []
        day = first
        while day <= last:
            if self.is_working_day(day):
                for begin_at, end_at in self.periods:
                    begin, end = datetime.combine(day, begin_at, zone), datetime.combine(day, end_at, zone)
                    if begin < end:
                        begins.append(_ns(begin))
                        ends.append(_ns(end))
            day += timedelta(days=1)
        return np.array(begins, dtype=np.int64), np.array(ends, dtype=np.int64)

    def add_limit(self, start: datetime, limit: timedelta, unit: LimitUnit | str) -> datetime:
        """The deadline of a limit counted in ``unit`` from ``start``.

        Working days: each whole day of the limit is one working day's working
        time (so a case raised at 15:00 with one working day is due at 15:00 on
        the next working day), the hours below a day are working hours.
        Working hours: every hour of the limit is a working hour.  Calendar
        hours: the wall clock.
        """
        unit = LimitUnit(unit)
        if unit is LimitUnit.CALENDAR_HOURS:
            return start + limit
        if unit is LimitUnit.WORKING_HOURS:
            return self.add_working(start, limit)
        whole_days = limit // timedelta(days=1)
        return self.add_working(start, whole_days * self.day_length + (limit - timedelta(days=whole_days)))


def _utc(value) -> datetime:
    """A ``datetime64`` (UTC, naive) as an aware UTC datetime."""
    return pd.Timestamp(value).tz_localize(UTC).to_pydatetime()


def _ns(moment: datetime) -> int:
    return pd.Timestamp(moment).value


def _span(start: time, end: time) -> timedelta:
    today = date(2000, 1, 3)
    return datetime.combine(today, end) - datetime.combine(today, start)


def imported_days(session: Session) -> dict[date, bool]:
    """The days ``linpu calendar import`` stored: True a working day, False a holiday.

    Read without flushing: a step asks the clock halfway through changing a case,
    and a flush there would count as one more version of it.
    """
    with session.no_autoflush:
        return {day: working for day, working in session.execute(select(CalendarDay.day, CalendarDay.working))}


def calendar_coverage(session: Session) -> CalendarCoverage:
    """The years the clock knows (library and imported) and the first day it counts weekends only."""
    return _coverage(imported_days(session))


def _coverage(imported: dict[date, bool]) -> CalendarCoverage:
    _, library_years = library_days()
    imported_years = tuple(sorted({day.year for day in imported}))
    return CalendarCoverage(
        library_years=(min(library_years), max(library_years)), imported_years=imported_years,
        known_years=library_years | frozenset(imported_years),
    )


def working_calendar(session: Session | None = None, settings: Settings | None = None) -> WorkingCalendar:
    """The calendar of the database (library years, imported years over them) and the working hours setting.

    Without a session only the library's years are known.
    """
    settings = settings or get_settings()
    imported = imported_days(session) if session is not None else {}
    library, _ = library_days()
    replaced = {day.year for day in imported}
    special = {day: working for day, working in library.items() if day.year not in replaced}
    special.update(imported)
    return WorkingCalendar(special=special, coverage=_coverage(imported),
                           periods=parse_working_hours(settings.working_hours))


def coverage_text(coverage: CalendarCoverage) -> str:
    """One line for ``linpu calendar show`` and ``linpu status`` (English, as the CLI speaks)."""
    first, last = coverage.library_years
    imported = f"; imported: {', '.join(map(str, coverage.imported_years))}" if coverage.imported_years else ""
    return (f"holiday calendar: library {first}–{last}{imported}; from {coverage.weekends_only_from} "
            "deadlines count weekends only (import the year's schedule with `linpu calendar import`)")
