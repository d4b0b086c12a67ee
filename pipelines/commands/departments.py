"""``linpu departments add|list``: the departments that take dispatched orders."""

from __future__ import annotations

import click

from governance.catalog import SERVICE_CATEGORIES
from pipelines.commands.common import LinpuGroup, echo_json, open_current_database
from pipelines.departments import list_departments, save_department

SERVICES = click.Choice([c.value for c in SERVICE_CATEGORIES])


@click.group("departments", cls=LinpuGroup)
def departments() -> None:
    """Departments (部门): add, list."""


@departments.command("add")
@click.argument("name")
@click.option("--default", "default_for", multiple=True, type=SERVICES,
              help="A service category this department is prefilled for in the dispatch form; repeat.")
@click.option("--auto", "auto_for", multiple=True, type=SERVICES,
              help="A service category dispatched to this department without a supervisor; repeat.")
def departments_add(name, default_for, auto_for):
    """Create a department (or change its categories); its people are `department` accounts."""
    row = save_department(open_current_database(), name, default_for=tuple(default_for), auto_for=tuple(auto_for))
    click.echo(f"department {row['name']}: default for {row['default_for'] or 'none'}, "
               f"automatic for {row['auto_for'] or 'none'}")


@departments.command("list")
@click.option("--json", "as_json", is_flag=True)
def departments_list(as_json):
    """Every department with its categories and active accounts."""
    frame = list_departments(open_current_database(announce=not as_json))
    if as_json:
        echo_json(frame.to_dict(orient="records"))
        return
    for row in frame.itertuples():
        click.echo(f"{row.name}\tdefault: {row.default_for or '-'}\tauto: {row.auto_for or '-'}\tpeople: {row.people}")
    click.echo(f"{len(frame)} departments")
