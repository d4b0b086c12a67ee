"""``linpu status`` and ``linpu schedules set|list``: is the district ready, and its check schedule."""

from __future__ import annotations

import click

from pipelines.commands.common import LinpuGroup, echo_json, open_current_database
from pipelines.office import schedule_list, set_schedule, status


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
def status_command(as_json):
    """What the district has and lacks (map, register, grids, teams, schedules, accounts), with the
    command that fills each gap; exit 1 while anything is missing."""
    items = status(open_current_database(announce=not as_json))
    if as_json:
        echo_json([item.as_dict() for item in items])
    else:
        for item in items:
            mark = "ok " if item.ok else "GAP"
            fix = "" if item.ok else f"\t-> {item.fix}"
            click.echo(f"{mark}\t{item.key}\t{item.count}{fix}")
    gaps = [item for item in items if not item.ok]
    if not as_json:
        click.echo(f"{len(gaps)} gaps" if gaps else "ready")
    if gaps:
        raise click.exceptions.Exit(1)


@click.group("schedules", cls=LinpuGroup)
def schedules() -> None:
    """Routine-check intervals (electricity, gas, construction, amusement rides)."""


def _echo_schedule(frame, as_json: bool) -> None:
    if as_json:
        echo_json(frame.to_dict(orient="records"))
        return
    for row in frame.itertuples():
        source = "" if row.stored else "\t(default)"
        click.echo(f"{row.category}\t{row.trade or '*'}\tevery {row.days} days{source}")


@schedules.command("list")
@click.option("--json", "as_json", is_flag=True)
def schedules_list(as_json):
    """The interval of every routine check; a trade's row beats the category's."""
    _echo_schedule(schedule_list(open_current_database(announce=not as_json)), as_json)


@schedules.command("set")
@click.argument("category")
@click.argument("days", type=int)
@click.option("--trade", default=None, help="Only the shops of this trade (e.g. catering).")
def schedules_set(category, days, trade):
    """Check CATEGORY every DAYS days (of --trade's shops only); the checks due follow at once."""
    frame = set_schedule(open_current_database(), category, days, trade=trade)
    click.echo(f"{category}{' (' + trade + ')' if trade else ''}: every {days} days")
    _echo_schedule(frame, False)
