"""The ``linpu`` command: every job the dashboard can do, scriptable.

Exit codes: 0 done, 1 input rejected, 2 usage or configuration error.  A
domain error is printed as one line, never as a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from governance.db import make_engine
from governance.errors import ConfigurationError, LinpuError
from governance.settings import get_settings

EXIT_REJECTED = 1
EXIT_USAGE = 2


class LinpuGroup(click.Group):
    """Turns domain errors into one line on stderr and the documented exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except LinpuError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_REJECTED)
        except DBAPIError as exc:
            # The transaction was rolled back; say why in one line (LINPU_DEBUG=1 shows the traceback).
            if os.environ.get("LINPU_DEBUG") == "1":
                raise
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            click.echo(f"error: the database refused the change, nothing was written: {reason}", err=True)
            ctx.exit(EXIT_REJECTED)


def open_database(*, announce: bool = True) -> Engine:
    """The engine for LINPU_DATABASE_URL, after saying which database it is."""
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    if announce:
        click.echo(f"database: {engine.url.render_as_string(hide_password=True)}", err=True)
    return engine


def open_current_database(*, announce: bool = True) -> Engine:
    """As open_database, and refuse a database whose schema is behind the code."""
    from governance.migrate import current_revision, head_revision

    engine = open_database(announce=announce)
    current = current_revision(engine)
    if current != head_revision():
        raise ConfigurationError(
            f"LINPU_DATABASE_URL: schema is at {current or 'nothing'}, the code needs "
            f"{head_revision()}; run `linpu db upgrade`"
        )
    return engine


@contextmanager
def progress_bar(*, disable: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing a tqdm bar on stderr.

    The pipeline functions report progress through such a callback and never
    print; the bar is drawn only on a terminal, so scripts and logs stay clean.
    """
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    off = disable or not sys.stderr.isatty()

    def tick(stage: str, done: int, total: int) -> None:
        if off:
            return
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="row", file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield tick
    finally:
        for bar in bars.values():
            bar.close()


@click.group(cls=LinpuGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Linpu: ~10-shop governance grids and the closed loop of every case."""


@main.group(cls=LinpuGroup)
def db() -> None:
    """Create and upgrade the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create the schema or bring it to the newest migration."""
    from governance.migrate import current_revision, upgrade

    engine = open_database()
    upgrade(engine, revision)
    click.echo(f"schema at revision {current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Print the schema's revision (nothing when the database is empty)."""
    from governance.migrate import current_revision, head_revision

    engine = open_database()
    click.echo(f"current: {current_revision(engine) or '-'}; code head: {head_revision()}")


@db.command("refresh")
def db_refresh() -> None:
    """Recount every stored figure: loop figures per grid and per grid and category, checks due.

    The writes keep them current; run this once after an upgrade that adds a
    kept figure (until then the dashboard counts it live, more slowly).
    """
    from sqlalchemy import func, select

    from governance.db import transaction
    from governance.models import CheckDue, GridCategoryStats, GridStats
    from governance.stats import refresh_check_due, refresh_grid_stats

    engine = open_current_database()
    with transaction(engine) as session:
        refresh_grid_stats(session)
        refresh_check_due(session)
        counts = [session.scalar(select(func.count()).select_from(model))
                  for model in (GridStats, GridCategoryStats, CheckDue)]
    click.echo("figures recounted: {:,} grids, {:,} grid × category rows, {:,} checks due".format(*counts))


@main.group(cls=LinpuGroup)
def demo() -> None:
    """The bundled synthetic demo district."""


@demo.command("generate")
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write; default the bundled data/demo.",
)
def demo_generate(seed: int, out: Path | None) -> None:
    """Write the synthetic demo district (same seed, same bytes)."""
    from pipelines.demo_generate import generate_demo
    from pipelines.demo_load import DEMO_DIR

    counts = generate_demo(out or DEMO_DIR, seed=seed)
    click.echo(f"wrote {out or DEMO_DIR}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@demo.command("load")
def demo_load() -> None:
    """Upgrade the schema and load the demo district, unless it is there already."""
    from governance.migrate import upgrade
    from pipelines.demo_load import load_demo

    engine = open_database()
    upgrade(engine)
    click.echo(load_demo(engine).summary())


def _register_groups() -> None:
    from pipelines.cli_district import district
    from pipelines.cli_export import export
    from pipelines.cli_ingest import ingest
    from pipelines.grids import grids
    from pipelines.grids_store import grids_import, grids_save  # noqa: F401 - adds `grids save|import`
    from pipelines.users import users

    main.add_command(grids)
    main.add_command(ingest)
    main.add_command(export)
    main.add_command(users)
    main.add_command(district)


_register_groups()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
