"""``linpu grids``: build, update and check shop grids, file in, file out.

Output GeoPackages hold two layers: ``grids`` (code, n_shops, building,
polygon) and ``shops`` (the input shops with a ``grid_code`` column).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd
import pyogrio

from geo.gridding import GriddingError, build_grids, grid_quality, update_grids
from governance.errors import LinpuError
from pipelines.readers import read_path
from pipelines.validation import Rows, locate

EXIT_REJECTED = 1


def _read(path: Path, *, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file; a CSV needs lon/lat columns in WGS84."""
    try:
        if path.suffix.lower() == ".csv":
            table = pd.read_csv(path)
            cols = {c.lower(): c for c in table.columns}
            lon = next((cols[c] for c in ("lon", "lng", "longitude", "x") if c in cols), None)
            lat = next((cols[c] for c in ("lat", "latitude", "y") if c in cols), None)
            if lon is None or lat is None:
                raise click.ClickException(
                    f"{what} file {path}: found columns {list(table.columns)}; need lon and lat (WGS84)"
                )
            return gpd.GeoDataFrame(
                table, geometry=gpd.points_from_xy(table[lon], table[lat]), crs="EPSG:4326"
            )
        kwargs = {"layer": layer} if layer else {}
        return gpd.read_file(path, **kwargs)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise click.ClickException(f"{what} file {path}: cannot read it ({exc})") from exc


def _read_register(path: Path, *, crs: str | None, coords: str) -> gpd.GeoDataFrame:
    """Shop points from any file `linpu ingest shops` reads, with its headers, encodings and --coords."""
    try:
        table = read_path(path)
        rows = Rows(table.source, table.frame.index, list(table.problems))
        located = locate(rows, table, crs=crs, coords=coords, district=None)
    except LinpuError as exc:
        _reject(str(exc))
    if rows.problems:
        lines = [p.text(table.source) for p in sorted(rows.problems, key=lambda p: p.row)]
        more = [f"… and {len(lines) - 20} more problems"] if len(lines) > 20 else []
        _reject("\n".join(lines[:20] + more))
    for note in located.notes:
        click.echo(f"note: {note}", err=True)
    return gpd.GeoDataFrame(table.frame.reset_index(drop=True),
                            geometry=gpd.points_from_xy(located.lon, located.lat), crs="EPSG:4326")


def _has_layer(path: Path, layer: str) -> bool:
    try:
        return layer in set(pyogrio.list_layers(path)[:, 0])
    except Exception:
        return False


def _write(out: Path, grids: gpd.GeoDataFrame, shops: gpd.GeoDataFrame) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.gpkg")
    tmp.unlink(missing_ok=True)
    # Both layers land together or not at all: write aside, then rename.
    grids.to_file(tmp, layer="grids", driver="GPKG")
    shops.to_file(tmp, layer="shops", driver="GPKG", mode="a")
    tmp.replace(out)


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
def build(
    shops_path, crs, coords, boundary_path, streets_path, target, min_size, max_size, seed, prefix, out,
    as_json
):
    """Build grids from scratch and print their quality report."""
    shops = _read_register(shops_path, crs=crs, coords=coords)
    boundary = _read(boundary_path, what="boundary") if boundary_path else None
    streets = _read(streets_path, what="streets") if streets_path else None
    try:
        result, codes = build_grids(
            shops,
            target=target,
            min_size=min_size,
            max_size=max_size,
            boundary=boundary,
            streets=streets,
            seed=seed,
            prefix=prefix,
        )
        report = grid_quality(
            result,
            shops,
            shop_codes=codes,
            min_size=min_size,
            max_size=max_size,
            boundary=boundary,
            streets=streets,
        )
    except GriddingError as exc:
        _reject(f"{shops_path}: {exc}")
    _write(out, result, shops.assign(grid_code=codes))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(f"wrote {out} (layers grids, shops)")
        _print_report(report)


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
    old = _read(
        grids_path, what="grids", layer="grids" if _has_layer(grids_path, "grids") else None
    )
    shops = _read(shops_path, what="shops")
    streets = _read(streets_path, what="streets") if streets_path else None
    try:
        result, codes, changes = update_grids(
            old, shops, target=target, min_size=min_size, max_size=max_size, streets=streets
        )
        report = grid_quality(
            result, shops, shop_codes=codes, min_size=min_size, max_size=max_size, streets=streets
        )
    except GriddingError as exc:
        _reject(f"{shops_path}: {exc}")
    _write(out, result, shops.assign(grid_code=codes))
    summary = changes.as_dict()
    if as_json:
        click.echo(
            json.dumps({"changes": summary, "quality": report}, ensure_ascii=False, indent=2)
        )
        return
    click.echo(f"wrote {out} (layers grids, shops)")
    click.echo(f"shops that changed grid: {changes.shops_moved} of {len(shops)}")
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
    click.echo(f"grids unchanged: {len(result) - len(changes.reshaped)} of {len(result)}")
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
    layer = "grids" if _has_layer(grids_path, "grids") else None
    layer_grids = _read(grids_path, what="grids", layer=layer)
    if "code" not in layer_grids:
        _reject(f"{grids_path}: found columns {list(layer_grids.columns)}; need a 'code' column")
    if shops_path:
        shops = _read(shops_path, what="shops")
    elif _has_layer(grids_path, "shops"):
        shops = _read(grids_path, what="shops", layer="shops")
    else:
        raise click.UsageError("--shops is needed: the grids file has no 'shops' layer")
    boundary = _read(boundary_path, what="boundary") if boundary_path else None
    streets = _read(streets_path, what="streets") if streets_path else None
    if shops.crs is None:
        _reject(f"{shops_path or grids_path}: shops have no CRS; set one")
    # Containment, not any stored code: the check is about the polygons.
    report = grid_quality(
        layer_grids,
        shops.drop(columns=["grid_code"], errors="ignore"),
        min_size=min_size,
        max_size=max_size,
        boundary=boundary,
        streets=streets,
    )
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_report(report)


def _reject(message: str):
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_REJECTED)
