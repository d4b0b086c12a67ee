"""Grids file in, file out: build, repair and check grid layers without a database.

The jobs behind ``linpu grids build|update|check``.  Output GeoPackages hold
two layers: ``grids`` (code, n_shops, building, polygon) and ``shops`` (the
input shops with a ``grid_code`` column).  Each job returns a report and
prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.gridding import GridChanges, GriddingError, build_grids, grid_quality, update_grids
from geo.quality import shop_neighbours, straddle_share
from governance.errors import LinpuError
from pipelines.grid_cluster import ClusterError, tile_runner
from pipelines.readers import read_path
from pipelines.validation import Rows, locate


class GridFileError(LinpuError):
    """Shops or grids that cannot be gridded or checked."""


class UnreadableFileError(GridFileError):
    """A file that cannot be read as the layer it was given for."""


class NoShopsError(GridFileError):
    """No shops given, and the grids file holds no ``shops`` layer to fall back on."""


@dataclass(frozen=True)
class GridFileReport:
    quality: dict[str, Any]
    n_grids: int
    n_shops: int
    out: Path | None = None
    changes: GridChanges | None = None
    notes: tuple[str, ...] = ()


def read_layer(path: Path, *, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file; a CSV needs lon/lat columns in WGS84."""
    try:
        if path.suffix.lower() == ".csv":
            table = pd.read_csv(path)
            cols = {c.lower(): c for c in table.columns}
            lon = next((cols[c] for c in ("lon", "lng", "longitude", "x") if c in cols), None)
            lat = next((cols[c] for c in ("lat", "latitude", "y") if c in cols), None)
            if lon is None or lat is None:
                raise UnreadableFileError(
                    f"{what} file {path}: found columns {list(table.columns)}; need lon and lat (WGS84)"
                )
            return gpd.GeoDataFrame(
                table, geometry=gpd.points_from_xy(table[lon], table[lat]), crs="EPSG:4326"
            )
        kwargs = {"layer": layer} if layer else {}
        return gpd.read_file(path, **kwargs)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise UnreadableFileError(f"{what} file {path}: cannot read it ({exc})") from exc


def has_layer(path: Path, layer: str) -> bool:
    try:
        return layer in set(pyogrio.list_layers(path)[:, 0])
    except Exception:
        return False


def _optional(path: Path | None, what: str) -> gpd.GeoDataFrame | None:
    return read_layer(path, what=what) if path else None


def _write(out: Path, grids: gpd.GeoDataFrame, shops: gpd.GeoDataFrame) -> None:
    _write_aside(out, grids, shops).replace(out)


def _write_aside(out: Path, grids: gpd.GeoDataFrame, shops: gpd.GeoDataFrame) -> Path:
    """Both layers in a file next to ``out``, for the caller to rename over it when all is well."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.gpkg")
    tmp.unlink(missing_ok=True)
    # Both layers land together or not at all: write aside, then rename.
    grids.to_file(tmp, layer="grids", driver="GPKG")
    shops.to_file(tmp, layer="shops", driver="GPKG", mode="a")
    return tmp


def read_register(path: Path, *, crs: str | None = None, coords: str = "wgs84") -> tuple[gpd.GeoDataFrame, list[str]]:
    """Shop points from any file ``linpu ingest shops`` reads (GBK or UTF-8 CSV, XLSX, GeoJSON,
    GeoPackage, Shapefile; its Chinese headers; ``--crs``, ``--coords``), and the notes on them."""
    table = read_path(path)
    rows = Rows(table.source, table.frame.index, list(table.problems))
    located = locate(rows, table, crs=crs, coords=coords, district=None)
    if rows.problems:
        lines = [p.text(table.source) for p in sorted(rows.problems, key=lambda p: p.row)]
        more = [f"… and {len(lines) - 20} more problems"] if len(lines) > 20 else []
        raise GridFileError("\n".join(lines[:20] + more))
    shops = gpd.GeoDataFrame(table.frame.reset_index(drop=True),
                             geometry=gpd.points_from_xy(located.lon, located.lat), crs="EPSG:4326")
    return shops, list(located.notes)


def build_grid_file(shops_path: Path, out: Path, *, crs: str | None = None, coords: str = "wgs84",
                    boundary_path: Path | None = None, streets_path: Path | None = None, target: int = 10,
                    min_size: int = 8, max_size: int = 12, seed: int = 0, prefix: str = "G",
                    scheduler: str | None = None) -> GridFileReport:
    """Build grids from scratch, write them with the shops to ``out``, and measure their quality.

    The tile work runs on Dask (``pipelines.grid_cluster``): on the cluster at
    ``scheduler``, else on a local one for large registers, else here. The
    grids are the same wherever it runs.
    """
    shops, notes = read_register(shops_path, crs=crs, coords=coords)
    boundary = _optional(boundary_path, "boundary")
    streets = _optional(streets_path, "streets")
    written = None
    try:
        with tile_runner(len(shops), scheduler=scheduler) as runner:
            # The points alone travel to the workers, not the register's columns.
            points = runner.share(shops[[shops.geometry.name]])
            # The straddle figure's shop neighbours depend on the shops alone: a worker
            # makes them while this process builds the grids.
            neighbours = runner.submit(shop_neighbours, points) if streets is not None else None
            result, codes = build_grids(shops, target=target, min_size=min_size, max_size=max_size,
                                        boundary=boundary, streets=streets, seed=seed, prefix=prefix,
                                        map_tiles=runner.map)
            # Measured on the workers, the straddle figure apart, while this process writes
            # the file (one after the other when in-process).
            grids, shop_codes = runner.share(result), runner.share(codes)
            quality = runner.submit(grid_quality, grids, points, shop_codes=shop_codes,
                                    min_size=min_size, max_size=max_size, boundary=boundary)
            straddle = (runner.submit(straddle_share, grids, points, streets=streets,
                                      shop_codes=shop_codes, neighbours=neighbours)
                        if streets is not None else None)
            written = _write_aside(out, result, shops.assign(grid_code=codes))
            report = quality.result()
            if straddle is not None:
                report["straddling_main_road_share"] = straddle.result()
            if runner.address:
                notes.append(f"tile work ran on {runner.workers} Dask worker{'s' if runner.workers > 1 else ''} "
                             f"({runner.address})")
    except (GriddingError, ClusterError) as exc:
        if written is not None:
            written.unlink(missing_ok=True)
        where = f"{shops_path}: " if isinstance(exc, GriddingError) else ""
        raise GridFileError(f"{where}{exc}") from None
    written.replace(out)
    return GridFileReport(report, len(result), len(shops), out=out, notes=tuple(notes))


def update_grid_file(grids_path: Path, shops_path: Path, out: Path, *, streets_path: Path | None = None,
                     target: int = 10, min_size: int = 8, max_size: int = 12) -> GridFileReport:
    """Repair grids after shops opened and closed, keeping codes; write and measure the result."""
    old = read_layer(grids_path, what="grids", layer="grids" if has_layer(grids_path, "grids") else None)
    shops = read_layer(shops_path, what="shops")
    streets = _optional(streets_path, "streets")
    try:
        result, codes, changes = update_grids(old, shops, target=target, min_size=min_size,
                                              max_size=max_size, streets=streets)
        report = grid_quality(result, shops, shop_codes=codes, min_size=min_size, max_size=max_size,
                              streets=streets)
    except GriddingError as exc:
        raise GridFileError(f"{shops_path}: {exc}") from None
    _write(out, result, shops.assign(grid_code=codes))
    return GridFileReport(report, len(result), len(shops), out=out, changes=changes)


def check_grid_file(grids_path: Path, *, shops_path: Path | None = None, boundary_path: Path | None = None,
                    streets_path: Path | None = None, min_size: int = 8,
                    max_size: int = 12) -> GridFileReport:
    """Measure a grid layer (built or hand-drawn); shops are assigned by containment."""
    layer_grids = read_layer(grids_path, what="grids",
                             layer="grids" if has_layer(grids_path, "grids") else None)
    if "code" not in layer_grids:
        raise GridFileError(f"{grids_path}: found columns {list(layer_grids.columns)}; need a 'code' column")
    if shops_path:
        shops = read_layer(shops_path, what="shops")
    elif has_layer(grids_path, "shops"):
        shops = read_layer(grids_path, what="shops", layer="shops")
    else:
        raise NoShopsError("--shops is needed: the grids file has no 'shops' layer")
    boundary = _optional(boundary_path, "boundary")
    streets = _optional(streets_path, "streets")
    if shops.crs is None:
        raise GridFileError(f"{shops_path or grids_path}: shops have no CRS; set one")
    # Containment, not any stored code: the check is about the polygons.
    report = grid_quality(layer_grids, shops.drop(columns=["grid_code"], errors="ignore"),
                          min_size=min_size, max_size=max_size, boundary=boundary, streets=streets)
    return GridFileReport(report, len(layer_grids), len(shops))
