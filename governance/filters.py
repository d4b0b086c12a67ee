"""The case filter: the one type queries, exports and the dashboard share.

A filter restricts cases (created in ``[start, end)``, categories, states)
and grids (codes).  Every value is checked against the catalogue when the
filter is made, so no unknown word reaches SQL; the filter is frozen and
hashable, so it keys the dashboard's caches as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from governance.catalog import CaseState, Category
from governance.errors import ValidationError
from governance.models import Case


@dataclass(frozen=True)
class CaseFilter:
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    grid_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field, enum, given in (("categories", Category, self.categories), ("states", CaseState, self.states)):
            for value in given:
                try:
                    enum(value)
                except ValueError:
                    allowed = ", ".join(m.value for m in enum)
                    raise ValidationError(f"{field}: {value!r} is not known; allowed: {allowed}") from None

    @classmethod
    def for_days(cls, start: date | None = None, end: date | None = None, **others) -> CaseFilter:
        """A filter over whole days, ``start`` to ``end`` inclusive (as the date pickers give them)."""
        return cls(
            start=datetime.combine(start, time.min, UTC) if start else None,
            end=datetime.combine(end, time.max, UTC) if end else None,
            **others,
        )

    @property
    def is_empty(self) -> bool:
        return not (self.start or self.end or self.categories or self.states or self.grid_codes)

    @property
    def one_category_only(self) -> bool:
        """One category and no dates or states: the filter the kept per-category figures answer."""
        return len(self.categories) == 1 and not (self.start or self.end or self.states)


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
    return conditions


def codes_of(filters: CaseFilter | None) -> tuple[str, ...]:
    """The grid codes a filter names (none: every grid in scope)."""
    return filters.grid_codes if filters else ()
