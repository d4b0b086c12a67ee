"""``linpu members import``: the grid teams' members who have no account."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.accounts import import_members
from pipelines.commands.common import LinpuGroup, echo_file_report, open_current_database


@click.group("members", cls=LinpuGroup)
def members() -> None:
    """Grid-team members without an account (property, security, fire)."""


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file only.")
@click.option("--json", "as_json", is_flag=True)
def members_import(file, dry_run, as_json):
    """Record FILE's members (CSV/XLSX: grid, member_kind leader|property|security|fire, name, phone)."""
    report = import_members(open_current_database(announce=not as_json), Path(file), dry_run=dry_run)
    echo_file_report(report, as_json=as_json)
