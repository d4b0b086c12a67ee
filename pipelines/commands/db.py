"""``linpu db upgrade|current|refresh``: the database schema and its kept figures."""

from __future__ import annotations

import click

from governance.migrate import current_revision, head_revision, upgrade
from pipelines.commands.common import LinpuGroup, open_current_database, open_database
from pipelines.recount import recount_figures


@click.group("db", cls=LinpuGroup)
def db() -> None:
    """Create and upgrade the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create the schema or bring it to the newest migration."""
    engine = open_database()
    upgrade(engine, revision)
    click.echo(f"schema at revision {current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Print the schema's revision (nothing when the database is empty)."""
    engine = open_database()
    click.echo(f"current: {current_revision(engine) or '-'}; code head: {head_revision()}")


@db.command("refresh")
def db_refresh() -> None:
    """Recount every stored figure: loop figures per grid and per grid and category, checks due.

    The writes keep them current; run this once after an upgrade that adds a
    kept figure (until then the dashboard counts it live, more slowly).
    """
    click.echo(recount_figures(open_current_database()).summary())
