"""``linpu boards``: the printed board of every shop, with its QR code to the shop's public page."""

from __future__ import annotations

from pathlib import Path

import click

from governance.clock import district_zone
from pipelines.boards import make_boards
from pipelines.commands.common import open_current_database, progress_bar


@click.command("boards")
@click.option("--grid", "grid_code", default=None, help="The shops of this grid (its code).")
@click.option("--all", "all_grids", is_flag=True, help="The shops of every current grid.")
@click.option("--changed-since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only shops opened, or with a badge awarded or revoked, since this day (China time).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PNGs and the PDF.")
def boards(grid_code, all_grids, changed_since, out_dir):
    """PNG (A5, 300 dpi) per shop and one multi-page PDF: name, badges, promise, grid, leader, QR code."""
    if bool(grid_code) == all_grids:
        raise click.UsageError("give exactly one of --grid CODE or --all")
    since = changed_since.replace(tzinfo=district_zone()) if changed_since else None
    with progress_bar() as tick:
        report = make_boards(open_current_database(), out_dir=out_dir, grid_code=grid_code,
                             changed_since=since, progress=tick)
    for line in report.lines():
        click.echo(line)


__all__ = ["boards"]
