"""``linpu calendar import|show``: China's holiday calendar behind every working-time limit."""

from __future__ import annotations

from pathlib import Path

import click

from governance.db import transaction
from governance.working_time import calendar_coverage, coverage_text
from pipelines.calendar_import import import_calendar
from pipelines.commands.common import LinpuGroup, echo_file_report, echo_json, open_current_database


@click.group("calendar", cls=LinpuGroup)
def calendar() -> None:
    """Holidays and make-up working days (调休) that working-time limits count."""


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace a year imported before.")
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def calendar_import(file, replace, dry_run, as_json):
    """Load a year's published schedule (date, kind holiday|workday, name) the library does not know yet."""
    report = import_calendar(open_current_database(announce=not as_json), file, replace=replace, dry_run=dry_run)
    echo_file_report(report, as_json=as_json)


@calendar.command("show")
@click.option("--json", "as_json", is_flag=True)
def calendar_show(as_json):
    """Which years the calendar knows, and from which day the clock counts weekends only."""
    with transaction(open_current_database(announce=not as_json)) as session:
        coverage = calendar_coverage(session)
    if as_json:
        echo_json({"library_years": list(coverage.library_years), "imported_years": list(coverage.imported_years),
                   "last_known_year": coverage.last_known_year,
                   "weekends_only_from": coverage.weekends_only_from.isoformat()})
        return
    click.echo(coverage_text(coverage))
