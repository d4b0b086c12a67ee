"""What every ``linpu`` command shares: exit codes, error lines, the database, progress, reports.

Exit codes: 0 done, 1 input rejected, 2 usage or configuration error.  A
domain error is printed as one line, never as a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from governance.db import make_engine
from governance.errors import ConfigurationError, LinpuError
from governance.migrate import current_revision, head_revision
from governance.settings import get_settings
from pipelines.ingest_report import IngestReport

EXIT_REJECTED = 1
EXIT_USAGE = 2
MAX_SHOWN = 50  # problem lines printed; the JSON report and the rejected-rows file hold them all


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


def echo_json(data: Any, *, default: Callable[[Any], Any] | None = None) -> None:
    """Print a report as indented JSON on stdout, Chinese text kept readable."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=default))


def echo_file_report(report: IngestReport, *, as_json: bool = False, quiet: bool = False) -> None:
    """Print a file import's report the same way for every kind; exit 1 when it was refused."""
    if as_json:
        echo_json(report.as_dict())
    else:
        # Problems are shown even with --quiet: a script needs to know why a file was refused.
        for line in report.problem_lines(MAX_SHOWN):
            click.echo(line, err=True)
        if report.refusal:
            click.echo(f"error: {report.refusal}", err=True)
        if not quiet:
            for note in report.notes:
                click.echo(f"note: {note}", err=True)
        click.echo(("dry run: " if report.dry_run else "") + report.summary())
    if report.refused:
        raise click.exceptions.Exit(EXIT_REJECTED)
