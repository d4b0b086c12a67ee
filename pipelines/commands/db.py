"""``linpu db upgrade|current|refresh|backup|restore``: the database schema, its kept figures, its copies."""

from __future__ import annotations

import click

from governance.migrate import current_revision, head_revision, upgrade
from pipelines.backup import backup, restore
from pipelines.commands.common import LinpuGroup, echo_json, open_current_database, open_database
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


@db.command("backup")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def db_backup(out, as_json):
    """A consistent copy of the database and the stored photos into the new folder OUT, with a
    manifest (schema revision, row counts, photo hashes); the app may keep running."""
    report = backup(open_current_database(announce=not as_json), out)
    if as_json:
        echo_json(report.as_dict())
        return
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"backup written: {report.summary()}")


@db.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--replace", is_flag=True, help="Replace a database that holds data (everything in it).")
def db_restore(source, replace):
    """Restore a backup folder; refused into a database holding data unless --replace; checks the
    schema revision, integrity, every table's row count and every photo's hash afterwards."""
    report = restore(open_database(), source, replace=replace)
    click.echo(f"restored and verified: {report.summary()}")
