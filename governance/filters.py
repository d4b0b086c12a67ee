"""The case filter: the one type queries, exports and the dashboard share.

A filter restricts cases (created in ``[start, end)``, categories, states,
and for road-occupation findings their stall-zone check) and grids (codes).  Every value is checked against the catalogue when the
filter is made, so no unknown word reaches SQL; the filter is frozen and
hashable, so it keys the dashboard's caches as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from governance.catalog import CaseState, Category, OccupationCheck
from governance.clock import district_zone
from governance.errors import ValidationError
from governance.models import Case


@dataclass(frozen=True)
class CaseFilter:
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    grid_codes: tuple[str, ...] = ()
    #: Road-occupation findings by their stall-zone check (``catalog.OccupationCheck``);
    #: naming any keeps only road-occupation findings checked so.
    occupation: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field, enum, given in (("categories", Category, self.categories), ("states", CaseState, self.states),
                                   ("occupation", OccupationCheck, self.occupation)):
            for value in given:
                try:
                    enum(value)
                except ValueError:
                    allowed = ", ".join(m.value for m in enum)
                    raise ValidationError(f"{field}: {value!r} is not known; allowed: {allowed}") from None

    @classmethod
    def for_days(cls, start: date | datetime | None = None, end: date | datetime | None = None, *,
                 timezone: str | None = None, categories=(), states=(), grid_codes=(),
                 occupation=()) -> CaseFilter:
        """A filter over the district's days, ``start`` to ``end`` inclusive, as people pick them.

        Local means the district's zone (``LINPU_TIMEZONE``) unless ``timezone`` names
        another. A date is a whole local day; a datetime without a zone is local time
        and kept to its minute. The supervisor's and analyst's date pickers
        and ``linpu export --start/--end`` all come through here, so one
        period selects the same cases on every page and in every file.

        Examples
        --------
        >>> CaseFilter.for_days(date(2026, 7, 1), date(2026, 7, 1)).end.isoformat()
        '2026-07-02T00:00:00+08:00'
        """
        zone = ZoneInfo(timezone) if timezone else district_zone()

        def local(value: date | datetime | None, *, whole_day: bool) -> datetime | None:
            if value is None:
                return None
            moment = value if isinstance(value, datetime) else datetime.combine(value, time.min)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
            return moment + timedelta(days=1) if whole_day and moment.time() == time.min else moment

        return cls(start=local(start, whole_day=False), end=local(end, whole_day=True),
                   categories=tuple(categories), states=tuple(states), grid_codes=tuple(grid_codes),
                   occupation=tuple(occupation))

    def period(self) -> CaseFilter:
        """The dates and categories alone (what the hotspots depend on)."""
        return CaseFilter(self.start, self.end, self.categories)

    def with_grid(self, grid_code: str) -> CaseFilter:
        """The same filter on one grid."""
        return replace(self, grid_codes=(grid_code,))

    @property
    def is_empty(self) -> bool:
        return not (self.start or self.end or self.categories or self.states or self.grid_codes
                    or self.occupation)

    @property
    def one_category_only(self) -> bool:
        """One category and no dates or states: the filter the kept per-category figures answer."""
        return len(self.categories) == 1 and not (self.start or self.end or self.states or self.occupation)


def case_conditions(filters: CaseFilter | None, *, category_ranges: bool = True) -> list:
    """SQL conditions on Case for the filter's dates, categories and states (grids are scoped apart)."""
    if filters is None:
        return []
    conditions = []
    if filters.start:
        conditions.append(Case.created_at >= filters.start)
    if filters.end:
        conditions.append(Case.created_at < filters.end)
    if filters.categories:
        conditions.append(Case.category.in_(list(filters.categories)))
    elif category_ranges and (filters.start or filters.end):
        # Always true (the column's CHECK allows only these), but it lets the
        # database read a date range per category from ix_cases_facts, which
        # covers the counts, instead of the wide rows by ix_cases_created_at.
        conditions.append(Case.category.in_([c.value for c in Category]))
    if filters.states:
        conditions.append(Case.state.in_(list(filters.states)))
    if filters.occupation:
        conditions.append(Case.occupation.in_(list(filters.occupation)))
    return conditions


def codes_of(filters: CaseFilter | None) -> tuple[str, ...]:
    """The grid codes a filter names (none: every grid in scope)."""
    return filters.grid_codes if filters else ()
