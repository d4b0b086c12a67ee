"""``linpu ingest shops|cases|checks FILE``: validated loading of user files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from pipelines.commands.common import (
    LinpuGroup,
    echo_file_report,
    open_current_database,
    progress_bar,
)
from pipelines.ingest import IngestReport, ingest_shops, write_rejected
from pipelines.ingest_field import ingest_cases, ingest_checks

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _common(f: Callable) -> Callable:
    for decorator in reversed([
        click.option("--dry-run", is_flag=True, help="Validate and count; write nothing."),
        click.option("--skip-invalid", is_flag=True,
                     help="Write the valid rows; the refused ones go to a CSV with the reason."),
        click.option("--rejected", "rejected_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Where --skip-invalid writes refused rows [default: FILE.rejected.csv]."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar and no notes (problems are still listed)."),
    ]):
        f = decorator(f)
    return f


def _location_options(f: Callable) -> Callable:
    f = click.option("--coords", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84",
                     show_default=True,
                     help="System of lon/lat: gcj02 for AMap/Tencent, bd09 for Baidu.")(f)
    f = click.option("--crs", default=None,
                     help="CRS of the input coordinates if not EPSG:4326, e.g. EPSG:4549.")(f)
    return f


def report_and_exit(report: IngestReport, file: Path, *, rejected_path: Path | None, as_json: bool,
                    quiet: bool) -> None:
    """Write the refused rows aside when asked, then print the report; exit 1 when refused."""
    if report.rejected is not None and report.skip_invalid and not report.dry_run and report.problems:
        target = rejected_path or file.with_name(file.stem + ".rejected.csv")
        write_rejected(report, target)
        report.notes.append(f"refused rows written to {target}")
    echo_file_report(report, as_json=as_json, quiet=quiet)


@click.group(cls=LinpuGroup)
def ingest() -> None:
    """Load shop registers and field exports (CSV, XLSX, GeoJSON, GeoPackage, Shapefile)."""


@ingest.command("shops")
@click.argument("file", type=_FILE)
@_location_options
@click.option("--partial", is_flag=True,
              help="The file lists only some shops: add and update, never close missing shops.")
@click.option("--close-missing", is_flag=True,
              help="Confirm closing the shops FILE leaves out, even more than a tenth of the open shops.")
@_common
def ingest_shops_command(file, crs, coords, partial, close_missing, dry_run, skip_invalid, rejected_path,
                         as_json, quiet):
    """Bring the stored shop register in line with FILE (the whole register).

    New shops are opened and placed in the current grid that contains them,
    changed ones updated, shops missing from FILE closed (unless --partial).
    A run that would close more than a tenth of the open shops (and more
    than five) is refused unless --close-missing confirms it.
    Re-ingesting the same file changes nothing.
    """
    if partial and close_missing:
        raise click.UsageError("--partial and --close-missing contradict each other; choose one")
    engine = open_current_database(announce=not (quiet or as_json))
    with progress_bar(disable=quiet or as_json) as tick:
        report = ingest_shops(engine, file, crs=crs, coords=coords, dry_run=dry_run,
                              skip_invalid=skip_invalid, close_missing=False if partial else (True if close_missing else None),
                              progress=tick)
    report_and_exit(report, file, rejected_path=rejected_path, as_json=as_json, quiet=quiet)


@ingest.command("cases")
@click.argument("file", type=_FILE)
@_location_options
@_common
def ingest_cases_command(file, crs, coords, dry_run, skip_invalid, rejected_path, as_json, quiet):
    """File patrol findings from a field export as cases (each starts as a warning).

    Each row is placed into the current grid that contains it (or its shop's
    grid) through the governance workflow, dated by its created_at.
    """
    engine = open_current_database(announce=not (quiet or as_json))
    with progress_bar(disable=quiet or as_json) as tick:
        report = ingest_cases(engine, file, crs=crs, coords=coords, dry_run=dry_run,
                              skip_invalid=skip_invalid, progress=tick)
    report_and_exit(report, file, rejected_path=rejected_path, as_json=as_json, quiet=quiet)


@ingest.command("checks")
@click.argument("file", type=_FILE)
@_common
def ingest_checks_command(file, dry_run, skip_invalid, rejected_path, as_json, quiet):
    """Record hazard checks from a field export; a failed check raises a case."""
    engine = open_current_database(announce=not (quiet or as_json))
    with progress_bar(disable=quiet or as_json) as tick:
        report = ingest_checks(engine, file, dry_run=dry_run, skip_invalid=skip_invalid, progress=tick)
    report_and_exit(report, file, rejected_path=rejected_path, as_json=as_json, quiet=quiet)
