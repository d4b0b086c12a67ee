"""``linpu export``: map layers for QGIS and reports."""

from __future__ import annotations

from pathlib import Path

import click

from governance.catalog import CaseState, Category, OccupationCheck
from governance.filters import CaseFilter
from pipelines.commands.common import echo_json, open_current_database, progress_bar
from pipelines.export import COORDS, FORMATS, LAYERS, export_layers

_DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])


@click.command("export")
@click.option("--layer", "layers", multiple=True, required=True,
              type=click.Choice([*LAYERS, "all"]), help="Layer to export; repeat it, or 'all'.")
@click.option("--format", "fmt", required=True, type=click.Choice(list(FORMATS)),
              help="gpkg holds all layers in one file; the others one layer per file.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="File to write; a folder when several layers go to a one-layer format.")
@click.option("--start", type=_DATE, help="Cases/checks from this date (the district's time, LINPU_TIMEZONE).")
@click.option("--end", type=_DATE, help="Cases/checks up to this date, inclusive.")
@click.option("--category", "categories", multiple=True, type=click.Choice([c.value for c in Category]))
@click.option("--state", "states", multiple=True, type=click.Choice([s.value for s in CaseState]))
@click.option("--occupation", multiple=True, type=click.Choice([o.value for o in OccupationCheck]),
              help="Road-occupation findings by their stall-zone check when filed; repeat.")
@click.option("--grid", "grids", multiple=True, help="Grid code (as stored, e.g. G012); repeat.")
@click.option("--crs", default=None, help="Reproject, e.g. EPSG:4549 (CGCS2000); default EPSG:4326.")
@click.option("--coords", type=click.Choice(COORDS), default="wgs84", show_default=True,
              help="gcj02: AMap/Tencent offset coordinates (file names end in -gcj02); EPSG:4326 only.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or notes.")
def export(layers, fmt, out, start, end, categories, states, occupation, grids, crs, coords, as_json, quiet):
    """Export grids (with their loop summary), shops, cases, checks or hotspots.

    Written to a temporary file and moved into place, so a failed export
    never destroys an earlier file.
    """
    # Dates are the district's (LINPU_TIMEZONE); a bare --end date includes that whole day.
    filters = CaseFilter.for_days(start, end, categories=categories, states=states, grid_codes=grids,
                                  occupation=occupation)
    if filters.start and filters.end and filters.start >= filters.end:
        raise click.BadParameter("--start must come before --end", param_hint="--start")
    engine = open_current_database(announce=not (quiet or as_json))
    with progress_bar(disable=quiet or as_json) as tick:
        result = export_layers(engine, layers=layers, fmt=fmt, out=out, filters=filters, crs=crs,
                               coords=coords, progress=tick)
    if as_json:
        echo_json(result.as_dict())
        return
    if not quiet:
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
    click.echo(result.summary())
