"""``linpu org import|show``: the organisation tree (street committee ▸ district committee ▸ branches)."""

from __future__ import annotations

import click

from governance import org as org_tree
from governance.db import transaction
from pipelines.commands.common import LinpuGroup, echo_file_report, echo_json, open_current_database
from pipelines.org import import_org


@click.group("org", cls=LinpuGroup)
def org() -> None:
    """The organisation tree: import, show."""


@org.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace the stored tree (refused without it).")
@click.option("--dry-run", is_flag=True, help="Check the file; write nothing.")
@click.option("--json", "as_json", is_flag=True)
def org_import(path, replace, dry_run, as_json):
    """Store the tree from a CSV or XLSX file (node_id, parent_id, level, name, grids, shops)."""
    report = import_org(open_current_database(announce=not as_json), path, replace=replace, dry_run=dry_run)
    echo_file_report(report, as_json=as_json)


@org.command("show")
@click.option("--json", "as_json", is_flag=True)
def org_show(as_json):
    """Each grid with its node at every level, then the grids under no node."""
    with transaction(open_current_database(announce=not as_json)) as session:
        levels = org_tree.grid_levels(session)
        unassigned = org_tree.unassigned_grids(session)
    if as_json:
        echo_json({"grids": levels.fillna("").to_dict(orient="records"), "unassigned": unassigned})
        return
    for row in levels.fillna("").itertuples(index=False):
        click.echo("\t".join(str(v) for v in row))
    click.echo(f"{len(levels)} grids under the tree; unassigned: {', '.join(unassigned) or 'none'}")
