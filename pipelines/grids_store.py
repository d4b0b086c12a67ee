"""``linpu grids save`` and ``linpu grids import``: grids into the database.

``save`` builds grids from the stored open shops (and the stored district
boundary and streets), or with ``--update`` repairs the current grids keeping
their codes, and adopts them as the current generation through
:func:`governance.adoption.adopt_generation`: shops are reassigned, open and
closed cases move with a ``regrid`` history row, grid members carry over by
code. ``import`` adopts official grids from a file (GeoJSON, GeoPackage,
zipped Shapefile, read in memory like every upload), after checking every
polygon and code row by row.

Both are plain functions returning a result; the click commands
(``pipelines.commands.grids``) only print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine, select

from geo.gridding import GriddingError, build_grids, grid_quality, update_grids
from geo.placement import place_points
from governance.adoption import adopt_generation
from governance.db import transaction
from governance.district import stored_layers
from governance.errors import LinpuError
from governance.grids import current_grid_frame
from governance.models import Shop
from pipelines.grid_cluster import tile_runner
from pipelines.ingest import (
    IngestReport,
    finish_report,
    load_table,
    refuse_duplicates_in_file,
)
from pipelines.readers import InputFileError
from pipelines.validation import Rows, find_column, parse_crs, text


class GridStoreError(LinpuError):
    """Grids that cannot be built or adopted."""


@dataclass
class SaveResult:
    method: str
    n_grids: int
    quality: dict[str, Any]
    adopted: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] | None = None
    dry_run: bool = False

    def summary(self) -> str:
        if self.dry_run:
            return f"dry run: {self.n_grids} grids ({self.method}); nothing saved"
        a = self.adopted
        dropped = len(a.get("members_dropped", []))
        return (f"saved generation {a['generation_id']}: {a['grids']} grids ({self.method}); "
                f"{a['shops_changed_grid']} of {a['shops_reassigned']} shops changed grid, "
                f"{a['cases_moved']} cases moved, "
                f"{a['members_carried']} members carried over, {dropped} dropped")

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "n_grids": self.n_grids, "dry_run": self.dry_run,
                "adopted": self.adopted, "changes": self.changes, "quality": self.quality}


def _open_shops(session) -> gpd.GeoDataFrame:
    rows = session.execute(
        select(Shop.shop_code, Shop.geometry).where(Shop.closed_at.is_(None)).order_by(Shop.shop_code)
    ).all()
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=["shop_code", "geometry"]), geometry="geometry",
                            crs=4326).set_index("shop_code", drop=False)


def _adopt(session, frame: gpd.GeoDataFrame, shop_codes: pd.Series, *, method: str, params: dict,
           quality: dict, note: str, now: datetime, actor: str | None = None) -> dict[str, Any]:
    result = adopt_generation(session, frame, shop_codes, method=method, params=params, quality=quality,
                              note=note, now=now, actor=actor)
    return {"generation_id": result.generation_id, "grids": result.grids,
            "shops_reassigned": result.shops_reassigned, "shops_changed_grid": result.shops_changed_grid,
            "cases_moved": result.cases_moved,
            "members_carried": result.members_carried,
            "members_dropped": [list(m) for m in result.members_dropped]}


def save_grids(engine: Engine, *, target: int = 10, min_size: int = 8, max_size: int = 12, seed: int = 0,
               update: bool = False, dry_run: bool = False, now: datetime | None = None,
               actor: str | None = None) -> SaveResult:
    """Build (or with ``update`` repair) grids of the stored open shops and make them current."""
    now = now or datetime.now(UTC)
    params = {"target": target, "min_size": min_size, "max_size": max_size, "seed": seed}
    with transaction(engine) as session:
        shops = _open_shops(session)
        if shops.empty:
            raise GridStoreError("there are no open shops: ingest the shop register first "
                                 "(`linpu ingest shops FILE`)")
        boundary, streets = stored_layers(session)
        current = current_grid_frame(session)
        try:
            if update and not current.empty:
                old = current.rename(columns={"grid_id": "id"})
                built, codes, changes = update_grids(old, shops, target=target, min_size=min_size,
                                                     max_size=max_size, streets=streets)
                method, change_dict = "linpu-gridding-update", changes.as_dict()
            else:
                if update:
                    raise GridStoreError("--update needs current grids; run `linpu grids save` first")
                # A large district's tiles on a local Dask cluster, as `grids build` does.
                with tile_runner(len(shops)) as runner:
                    built, codes = build_grids(shops, target=target, min_size=min_size,
                                               max_size=max_size, boundary=boundary, streets=streets,
                                               seed=seed, map_tiles=runner.map)
                method, change_dict = "linpu-gridding", None
            quality = grid_quality(built, shops, shop_codes=codes, min_size=min_size, max_size=max_size,
                                   boundary=boundary, streets=streets)
        except GriddingError as exc:
            raise GridStoreError(f"gridding the stored shops: {exc}") from None
        result = SaveResult(method, len(built), quality, changes=change_dict, dry_run=dry_run)
        if dry_run:
            return result
        result.adopted = _adopt(session, built, codes, method=method, params=params, quality=quality,
                                note="linpu grids save" + (" --update" if update else ""), now=now, actor=actor)
    return result


GRID_CODE_NAMES = ("code", "grid_code", "grid", "网格编号", "网格编码", "编号", "编码")
GRID_NAME_NAMES = ("name", "grid_name", "网格名称", "名称")


def import_grids(engine: Engine, source: bytes | Path, *, name: str | None = None, crs: str | None = None,
                 dry_run: bool = False, skip_invalid: bool = False,
                 now: datetime | None = None, actor: str | None = None) -> IngestReport:
    """Adopt official grid polygons from a file as the current generation.

    Every feature needs a polygon (valid, non-empty) and a unique code.
    Shops are assigned by containment; the report's counts say how many shops
    lie in no grid, and the adoption's moves.
    """
    now = now or datetime.now(UTC)
    table = load_table(source, name)
    if table.geometry is None:
        raise InputFileError(table.source, 1, "geometry", "grids need polygons: give GeoJSON, GeoPackage "
                             "or a zipped Shapefile")
    code_column = find_column(table, GRID_CODE_NAMES)
    if code_column is None:
        raise InputFileError(table.source, 1, "code", f"missing column; accepted names: "
                             f"{', '.join(GRID_CODE_NAMES)}; the file has: {', '.join(table.columns)}")
    frame = table.frame
    rows = Rows(table.source, frame.index, list(table.problems))
    report = IngestReport("grids", table.source, len(frame), dry_run=dry_run, skip_invalid=skip_invalid)
    codes = text(frame, code_column)
    _check_codes(rows, codes)
    geometry = table.geometry
    source_crs = parse_crs(crs) if crs else geometry.crs
    if source_crs is None:
        raise InputFileError(table.source, 1, "geometry", "the file declares no CRS; give --crs")
    _check_polygons(rows, geometry)
    report = finish_report(report, table, rows)
    if report.refused:
        return report
    good = rows.good_mask()
    names = text(frame, find_column(table, GRID_NAME_NAMES))
    polygons = _to_wgs84(geometry[good], source_crs, table.source)
    layer = gpd.GeoDataFrame({"code": codes[good].to_numpy(), "name": names[good].to_numpy()},
                             geometry=polygons, crs=4326)
    overlaps = _overlaps(layer)
    if overlaps:
        report.notes.append("grids overlap: " + ", ".join(f"{a}/{b}" for a, b in overlaps[:10])
                            + "; a shop on an overlap goes to the first grid by code")
    with transaction(engine) as session:
        shops = _open_shops(session)
        placed = place_points(shops, layer) if len(shops) else pd.DataFrame({"code": []})
        layer["n_shops"] = layer["code"].map(placed["code"].value_counts()).fillna(0).astype(int)
        outside = int(placed["code"].isna().sum())
        quality = grid_quality(layer, shops, shop_codes=placed["code"]) if len(shops) else {}
        report.counts = {"grids": len(layer), "shops_in_no_grid": outside}
        if outside:
            report.notes.append(f"{outside} open shops lie in no imported grid and keep no grid")
        if dry_run:
            return report
        adopted = _adopt(session, layer, pd.Series(dtype=object), method="import",
                         params={"source": table.source}, quality=quality,
                         note=f"imported from {table.source}", now=now, actor=actor)
        report.counts.update({k: v for k, v in adopted.items() if isinstance(v, int)})
        if adopted["members_dropped"]:
            report.notes.append("members of grids that no longer exist: "
                                + ", ".join(f"{c} {n}" for c, n in adopted["members_dropped"][:20]))
        report.written = True
    return report


def _check_codes(rows: Rows, codes: pd.Series) -> None:
    for row in codes.index[codes == ""]:
        rows.add(row, "code", "is empty; every grid needs a code")
    for row in codes.index[codes.str.len() > 32]:
        rows.add(row, "code", "longer than 32 characters")
    refuse_duplicates_in_file(rows, codes, "code")


def _check_polygons(rows: Rows, geometry: gpd.GeoSeries) -> None:
    for row, geom in geometry.items():
        if geom is None or geom.is_empty:
            rows.add(row, "geometry", "is empty; a polygon is required")
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            rows.add(row, "geometry", f"is a {geom.geom_type}; a polygon is required")
        elif not geom.is_valid:
            rows.add(row, "geometry", f"invalid polygon: {shapely.is_valid_reason(geom)}")


def _to_wgs84(geometry: gpd.GeoSeries, source_crs, source: str):
    try:
        return geometry.set_crs(source_crs, allow_override=True).to_crs(4326).values
    except Exception as exc:  # pyproj raises ProjError/CRSError for a damaged or unusable CRS
        raise InputFileError(source, 1, "geometry", f"its CRS cannot be converted to EPSG:4326 "
                             f"({str(exc).splitlines()[0]}); fix the .prj or give --crs") from None


def _overlaps(layer: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    metric = layer.to_crs(layer.estimate_utm_crs())
    left, right = metric.sindex.query(metric.geometry.values, predicate="overlaps")
    pairs = []
    for i, j in zip(left, right, strict=True):
        if i < j and metric.geometry.iloc[i].intersection(metric.geometry.iloc[j]).area > 1.0:
            pairs.append((layer["code"].iloc[i], layer["code"].iloc[j]))
    return pairs
