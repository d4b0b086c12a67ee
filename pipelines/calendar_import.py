"""``linpu calendar import FILE``: a year's published holiday schedule, for a year the library does not know.

The file (CSV or XLSX) lists the days that differ from a plain week: one row
per day with ``date``, ``kind`` (``holiday`` / 休, or ``workday`` / 班 for a
make-up working day) and an optional ``name``.  Every year in the file
replaces the calendar library's schedule for that year; a year imported
before is replaced only with ``replace=True``.  Deadlines already set are kept:
a due time is a promise made when the case was raised.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, extract, select

from governance.db import transaction
from governance.models import CalendarDay
from governance.working_time import calendar_coverage, library_days
from pipelines.ingest import IngestReport, load_table
from pipelines.validation import Rows, codes, no_nul_bytes, optional_text, require_columns, text

SPEC = {
    "date": ("date", "day", "日期"),
    "kind": ("kind", "type", "类型", "休班"),
    "name": ("name", "holiday", "名称", "节日"),
}
KIND_ALIASES = {"休": "holiday", "假": "holiday", "节假日": "holiday", "放假": "holiday",
                "班": "workday", "上班": "workday", "调休上班": "workday", "补班": "workday"}


def import_calendar(engine: Engine, source: Path | bytes, *, name: str | None = None,
                    replace: bool = False, dry_run: bool = False) -> IngestReport:
    """Validate every row, then store the file's years in one transaction (or nothing)."""
    table = load_table(source, name)
    frame = table.frame
    report = IngestReport(kind="calendar", source=table.source, rows=len(frame), dry_run=dry_run,
                          problems=list(table.problems))
    columns = require_columns(table, SPEC, required=("date", "kind"))
    rows = Rows(table.source, frame.index, report.problems)
    no_nul_bytes(rows, frame, columns)
    days = pd.to_datetime(text(frame, columns["date"]).str.replace("/", "-"), errors="coerce", format="mixed")
    for row in frame.index[days.isna()]:
        rows.add(row, "date", f"{frame.at[row, columns['date']]!r} is not a date (use 2027-02-06)")
    kinds = codes(rows, text(frame, columns["kind"]), "kind", ("holiday", "workday"), KIND_ALIASES)
    names = optional_text(rows, text(frame, columns.get("name")), "name", max_length=64)
    seen: dict = {}
    for row in frame.index[days.notna()]:
        day = days[row].date()
        if day in seen:
            rows.add(row, "date", f"{day} is listed twice (first in row {seen[day]})")
        seen.setdefault(day, row)
        if kinds[row] == "workday" and day.weekday() < 5:
            rows.add(row, "kind", f"{day} is a weekday, a working day already; a make-up day falls on a weekend")
    if report.problems:
        return report
    years = sorted({day.year for day in seen})
    with transaction(engine) as session:
        stored = set(session.scalars(select(extract("year", CalendarDay.day)).group_by(
            extract("year", CalendarDay.day))).all())
        again = [year for year in years if int(year) in {int(y) for y in stored}]
        if again and not replace:
            rows.add(frame.index[0], "date", f"{', '.join(map(str, again))} imported before; "
                     "give --replace to replace that schedule")
            return report
        _, library_years = library_days()
        report.notes.extend(f"{year}: replaces the calendar library's schedule" for year in years
                            if year in library_years)
        report.counts = {"holidays": int((kinds == "holiday").sum()), "make_up_working_days":
                         int((kinds == "workday").sum()), "years": len(years)}
        if dry_run:
            return report
        session.execute(delete(CalendarDay).where(extract("year", CalendarDay.day).in_(years)))
        session.add_all(CalendarDay(day=day, working=kinds[row] == "workday", name=names[row])
                        for day, row in seen.items())
        report.written = True
    with transaction(engine) as session:
        coverage = calendar_coverage(session)
    report.notes.append(f"the holiday calendar now knows up to {coverage.last_known_year}; "
                        f"from {coverage.weekends_only_from} the clock counts weekends only")
    return report
