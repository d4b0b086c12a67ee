"""``linpu grids``: build, update and check shop grids, file in, file out; save and import them.

The jobs are in ``pipelines.grid_files`` (file in, file out) and
``pipelines.grids_store`` (into the database); these commands print their reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import numpy as np

from pipelines.commands.common import (
    EXIT_REJECTED,
    echo_file_report,
    echo_json,
    open_current_database,
)
from pipelines.csv_safety import spreadsheet_safe
from pipelines.grid_cluster import CLUSTER_MIN_SHOPS
from pipelines.grid_files import (
    GridFileError,
    NoShopsError,
    UnreadableFileError,
    build_grid_file,
    check_grid_file,
    update_grid_file,
)
from pipelines.grids_store import import_grids, save_grids
from pipelines.office import grid_roster


def _print_report(report: dict) -> None:
    size = report["size"]
    pp = report["polsby_popper"]
    lines = [
        f"grids: {report['n_grids']} for {report['n_shops']} shops "
        f"({report['building_grids']} building grids holding {report['shops_in_building_grids']} shops)",
        f"size: min {size['min']}, median {size['median']}, max {size['max']}; "
        f"within {size['bounds']}: {_pct(size['share_within_bounds'])}",
        f"Polsby-Popper: mean {_num(pp['mean'])}, min {_num(pp['min'])}",
        f"largest walking span: {_num(report['walking_span_m']['max'], 0)} m",
        f"parts per polygon: max {report['parts_per_polygon']['max']} "
        f"({report['parts_per_polygon']['multi_part_grids']} multi-part grids); "
        f"invalid polygons: {report['invalid_polygons']}",
        f"gap: {report['gap_area_m2']} m2, overlap: {report['overlap_area_m2']} m2",
        f"shops outside their own grid: {report['shops_outside_own_grid']}",
        f"grids straddling a main road: {_pct(report['straddling_main_road_share'])}",
    ]
    if size["out_of_bounds"]:
        lines.append("grids out of bounds: " + ", ".join(size["out_of_bounds"][:50]))
    for line in lines:
        click.echo(line)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _size_options(f):
    f = click.option(
        "--max", "max_size", type=int, default=12, show_default=True, help="Most shops per grid."
    )(f)
    f = click.option(
        "--min", "min_size", type=int, default=8, show_default=True, help="Fewest shops per grid."
    )(f)
    f = click.option(
        "--target", type=int, default=10, show_default=True, help="Wanted shops per grid."
    )(f)
    return f


@contextmanager
def _file_errors() -> Iterator[None]:
    """Each refusal exits as it always did: an unreadable file as click's ``Error:`` line,
    a missing --shops as a usage error (2), anything else as one ``error:`` line (1)."""
    try:
        yield
    except UnreadableFileError as exc:
        raise click.ClickException(str(exc)) from exc
    except NoShopsError as exc:
        raise click.UsageError(str(exc)) from None
    except GridFileError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_REJECTED) from None


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, path_type=Path)


@click.group("grids")
def grids() -> None:
    """Build, repair and check the ~10-shop grids."""


@grids.command("build")
@click.option(
    "--shops",
    "shops_path",
    type=_FILE,
    required=True,
    help="Shop register: CSV (UTF-8 or GBK), XLSX, GeoJSON, GeoPackage or Shapefile, as `linpu ingest shops`.",
)
@click.option("--crs", default=None, help="CRS of the input coordinates if not EPSG:4326, e.g. EPSG:4549.")
@click.option("--coords", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True,
              help="System of lon/lat: gcj02 for AMap/Tencent, bd09 for Baidu.")
@click.option(
    "--boundary",
    "boundary_path",
    type=_FILE,
    help="District polygon; default: the shops' buffered hull.",
)
@click.option(
    "--streets",
    "streets_path",
    type=_FILE,
    help="Street centre lines with a 'class' column (main/street/lane).",
)
@_size_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--prefix", default="G", show_default=True, help="Start of every grid code.")
@click.option(
    "--out", type=_OUT, required=True, help="GeoPackage to write (layers grids and shops)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the quality report as JSON on stdout.")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Dask scheduler (tcp://host:8786) to send the tile work to. Default: a local cluster, "
    f"one worker per core, from {CLUSTER_MIN_SHOPS:,} shops; this process below.",
)
def build(
    shops_path, crs, coords, boundary_path, streets_path, target, min_size, max_size, seed, prefix, out,
    as_json, scheduler
):
    """Build grids from scratch and print their quality report."""
    with _file_errors():
        result = build_grid_file(shops_path, out, crs=crs, coords=coords,
                                 boundary_path=boundary_path, streets_path=streets_path,
                                 target=target, min_size=min_size, max_size=max_size, seed=seed,
                                 prefix=prefix, scheduler=scheduler)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json(result.quality)
    else:
        click.echo(f"wrote {out} (layers grids, shops)")
        _print_report(result.quality)


@grids.command("update")
@click.option(
    "--grids",
    "grids_path",
    type=_FILE,
    required=True,
    help="GeoPackage from 'grids build' (layer grids).",
)
@click.option("--shops", "shops_path", type=_FILE, required=True, help="All shops open now.")
@click.option(
    "--streets", "streets_path", type=_FILE, help="Street centre lines with a 'class' column."
)
@_size_options
@click.option(
    "--out", type=_OUT, required=True, help="GeoPackage to write (layers grids and shops)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the changes and quality report as JSON."
)
def update(grids_path, shops_path, streets_path, target, min_size, max_size, out, as_json):
    """Repair existing grids after shops opened and closed, keeping codes."""
    with _file_errors():
        result = update_grid_file(grids_path, shops_path, out, streets_path=streets_path, target=target,
                                  min_size=min_size, max_size=max_size)
    changes, report = result.changes, result.quality
    summary = changes.as_dict()
    if as_json:
        echo_json({"changes": summary, "quality": report})
        return
    click.echo(f"wrote {out} (layers grids, shops)")
    click.echo(f"shops that changed grid: {changes.shops_moved} of {result.n_shops}")
    for old_code, new in changes.split.items():
        click.echo(f"split: {old_code} -> {old_code}, {', '.join(new)}")
    for gone, into in changes.merged.items():
        click.echo(f"merged: {gone} into {into}")
    for group in changes.rebalanced:
        click.echo(f"rebalanced: {' with '.join(group)}")
    if changes.appeared:
        click.echo("appeared: " + ", ".join(changes.appeared))
    if changes.retired:
        click.echo("retired: " + ", ".join(changes.retired))
    if changes.unresolved:
        click.echo("still out of bounds: " + ", ".join(changes.unresolved))
    click.echo(f"grids unchanged: {result.n_grids - len(changes.reshaped)} of {result.n_grids}")
    _print_report(report)


@grids.command("check")
@click.option(
    "--grids",
    "grids_path",
    type=_FILE,
    required=True,
    help="Grid polygons with a 'code' column (built or hand-drawn).",
)
@click.option(
    "--shops", "shops_path", type=_FILE, help="Shops; default: the 'shops' layer of the grids file."
)
@click.option(
    "--boundary", "boundary_path", type=_FILE, help="District polygon to measure gaps against."
)
@click.option(
    "--streets", "streets_path", type=_FILE, help="Street centre lines with a 'class' column."
)
@_size_options
@click.option("--json", "as_json", is_flag=True, help="Print the quality report as JSON on stdout.")
def check(grids_path, shops_path, boundary_path, streets_path, target, min_size, max_size, as_json):
    """Print the quality report of a grid layer; shops are assigned by containment."""
    with _file_errors():
        result = check_grid_file(grids_path, shops_path=shops_path, boundary_path=boundary_path,
                                 streets_path=streets_path, min_size=min_size, max_size=max_size)
    if as_json:
        echo_json(result.quality)
    else:
        _print_report(result.quality)


@grids.command("save")
@_size_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--update", "update_", is_flag=True,
              help="Repair the current grids (keep codes) instead of building afresh.")
@click.option("--dry-run", is_flag=True, help="Build and report quality; save nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result and quality as JSON.")
def grids_save(target, min_size, max_size, seed, update_, dry_run, as_json):
    """Grid the stored open shops and make the result the current grids."""
    engine = open_current_database(announce=not as_json)
    result = save_grids(engine, target=target, min_size=min_size, max_size=max_size, seed=seed,
                        update=update_, dry_run=dry_run)
    if as_json:
        echo_json(result.as_dict(), default=_plain)
        return
    _print_report(result.quality)
    click.echo(result.summary())


@grids.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="CRS of the file when it declares none.")
@click.option("--dry-run", is_flag=True, help="Check the polygons and count; save nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def grids_import(file, crs, dry_run, as_json):
    """Adopt official grid polygons from FILE (with a code column) as the current grids."""
    engine = open_current_database(announce=not as_json)
    report = import_grids(engine, file, crs=crs, dry_run=dry_run)
    echo_file_report(report, as_json=as_json)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


@grids.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def grids_list(fmt):
    """Every current grid: code, open shops, leader, members, open cases."""
    frame = grid_roster(open_current_database(announce=fmt == "table"))
    if fmt == "json":
        echo_json(frame.to_dict(orient="records"))
    elif fmt == "csv":
        # Names come from the office's account and team files: a spreadsheet must not run them.
        click.echo(spreadsheet_safe(frame).to_csv(index=False), nl=False)
    else:
        click.echo(frame.to_string(index=False) if len(frame) else "no current grids (linpu grids save)")
