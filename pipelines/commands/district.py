"""``linpu district import``: replace the boundary or the streets of the stored district."""

from __future__ import annotations

from pathlib import Path

import click

from governance.settings import get_settings
from pipelines.commands.common import LinpuGroup, echo_json, open_current_database
from pipelines.district import import_district


@click.group("district", cls=LinpuGroup)
def district() -> None:
    """The district's own map: boundary, streets, frontage zones, stall zones, service points."""


@district.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer", required=True, type=click.Choice(["boundary", "streets", "frontage", "stalls", "service_points"]),
              help="The layer FILE replaces.")
@click.option("--coords", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True,
              help="System of lon/lat: gcj02 for AMap/Tencent, bd09 for Baidu.")
@click.option("--crs", default=None, help="CRS of FILE when it declares none, e.g. EPSG:4549.")
@click.option("--osm-relation", type=int, default=None,
              help="With an OSM extract and --layer boundary: the id of the boundary relation.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def district_import(file, layer, coords, crs, osm_relation, as_json):
    """Replace one layer of the district map by FILE, in one transaction.

    FILE is GeoJSON, GeoPackage, Shapefile (.shp or zipped), KML, or an
    OpenStreetMap extract (.osm.pbf or .osm): its highways become streets
    (classed main, street, lane by their highway tag) and --osm-relation ID
    picks the boundary. Streets are clipped to the stored boundary.
    Frontage zones (polygons) name their shop (shop_code); stall zones
    (polygons) and service points (points) may give their hours in
    OpenStreetMap opening_hours syntax (hours), e.g. "Mo-Su 18:00-23:00".
    """
    engine = open_current_database(announce=not as_json)
    report = import_district(engine, file, layer=layer, coords=coords, crs=crs, osm_relation=osm_relation,
                             language=get_settings().language)
    if as_json:
        echo_json(report.as_dict())
        return
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary())
