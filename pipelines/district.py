"""``linpu district import``: a district's boundary, streets and compact layers from its files or OSM.

The file is read (GeoJSON, GeoPackage, Shapefile, KML or an OpenStreetMap
extract), checked feature by feature, brought to WGS84 (any CRS; GCJ-02 or
BD-09 with ``--coords``), streets classed and clipped to the stored boundary,
and the layer replaced in one transaction. A refusal names file, feature and
field, in Chinese or English, and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy import Engine

from geo.coords import SYSTEMS
from geo.district import HIGHWAY_CLASSES, class_highways, clip_streets, overlap_share, unshift
from governance import admin_log
from governance.admin_log import shell_actor
from governance.compact import known_shop_codes, parse_hours
from governance.db import session_factory, transaction
from governance.district import LAYER_KINDS, replace_layer, stored_boundary
from pipelines.district_files import DistrictRefused, is_osm, read_map_file, read_osm
from pipelines.readers import RawTable
from pipelines.validation import find_column, parse_crs, text

NAME_NAMES = ("name", "名称", "路名", "道路名称", "街道名称", "name_zh")
#: A Shapefile's DBF cuts field names to 10 bytes: ``street_class`` arrives as ``street_cla`` and
#: ``opening_hours`` as ``opening_ho``, and must still be found (a stall zone whose hours were
#: missed would count as open at every hour).
CLASS_NAMES = ("class", "street_class", "street_cla", "道路等级", "等级", "类别")
#: Columns that hold OpenStreetMap highway values (Geofabrik's shapefiles call it fclass).
HIGHWAY_NAMES = ("highway", "fclass")
CLASS_ALIASES = {"main": "main", "street": "street", "lane": "lane", "主干道": "main", "主干路": "main",
                 "干道": "main", "街": "street", "街道": "street", "支路": "street", "巷": "lane", "小巷": "lane"}
HOURS_NAMES = ("hours", "opening_hours", "opening_ho", "开放时间", "营业时间", "时段")
SHOP_NAMES = ("shop_code", "shop_id", "店铺编号", "商户编号")
AREAS = ("Polygon", "MultiPolygon")
SHAPES = {"boundary": AREAS, "streets": ("LineString", "MultiLineString"), "frontage": AREAS, "stalls": AREAS,
          "service_points": ("Point", *AREAS)}
#: The compact's layers (governance.compact): zones and points with hours or a shop.
COMPACT_LAYERS = ("frontage", "stalls", "service_points")


@dataclass
class DistrictReport:
    layer: str
    source: str
    features: int
    written: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.source}: layer {self.layer} replaced by {self.written} features "
                f"(of {self.features} read)")

    def as_dict(self) -> dict:
        return {"layer": self.layer, "source": self.source, "features": self.features,
                "written": self.written, "notes": self.notes}


def import_district(engine: Engine, path: Path, *, layer: str, coords: str = "wgs84", crs: str | None = None,
                    osm_relation: int | None = None, language: str = "zh",
                    actor: str | None = None) -> DistrictReport:
    """Replace the stored ``layer`` (a key of ``LAYER_KINDS``) by the features of ``path``."""
    source = path.name
    if layer not in LAYER_KINDS:
        raise DistrictRefused(source, 1, "--layer", language=language,
                              en=f"unknown layer {layer!r}; use one of {', '.join(LAYER_KINDS)}",
                              zh=f"未知图层 {layer!r}；可用：{', '.join(LAYER_KINDS)}")
    if coords not in SYSTEMS:
        raise DistrictRefused(source, 1, "--coords", language=language,
                              en=f"unknown coordinate system {coords!r}; use one of {', '.join(SYSTEMS)}",
                              zh=f"未知坐标系 {coords!r}；可用：{', '.join(SYSTEMS)}")
    with session_factory(engine)() as session:
        boundary = stored_boundary(session)
    if layer == "streets" and boundary is None:
        raise DistrictRefused(source, 1, "--layer", language=language,
                              en="no district boundary is stored: import the boundary first "
                                 "(linpu district import FILE --layer boundary); streets are clipped to it",
                              zh="数据库中尚无街区边界：请先导入边界（linpu district import 文件 --layer boundary），"
                                 "道路将按边界裁剪")
    notes: list[str] = []
    if is_osm(source) and layer in COMPACT_LAYERS:
        raise DistrictRefused(source, 1, "--layer", language=language,
                              en=f"the {layer} layer is read from the office's own files (GeoJSON, GeoPackage, "
                                 "Shapefile, KML), not from an OSM extract",
                              zh=f"{layer} 图层须从街道办自己的文件（GeoJSON、GeoPackage、Shapefile、KML）导入，"
                                 "不能从 OSM 数据导入")
    if is_osm(source):
        bbox = tuple(boundary.bounds) if layer == "streets" else None
        table = read_osm(path, layer=layer, relation=osm_relation, bbox=bbox, language=language)
    else:
        table = read_map_file(path)
    frame = _checked_frame(table, layer, language)
    frame = frame.set_geometry(_to_wgs84(table, frame.geometry, crs=crs, coords=coords, notes=notes,
                                         language=language))
    with transaction(engine) as session:
        boundary = stored_boundary(session)
        if layer == "streets":
            frame = _clipped(frame, boundary, table.source, language, notes)
        elif boundary is not None:
            _check_overlap(frame, boundary, table.source, language)
        if layer == "frontage":
            _check_shops(session, frame, table.source, language)
        written = replace_layer(session, layer, frame)
        admin_log.record(session, actor=actor or shell_actor(), action="district_imported",
                         target=f"{layer}: {table.source}", rows=written)
    return DistrictReport(layer, table.source, len(table.frame), written, notes)


def _checked_frame(table: RawTable, layer: str, language: str) -> gpd.GeoDataFrame:
    """Name, (street) class and geometry of every feature; any bad feature refuses the file."""
    if table.geometry is None:
        raise DistrictRefused(table.source, 1, "geometry", language=language,
                              en="a map layer needs geometries: give GeoJSON, GeoPackage, Shapefile, KML "
                                 "or an OSM extract",
                              zh="图层需要几何：请提供 GeoJSON、GeoPackage、Shapefile、KML 或 OSM 数据")
    frame = gpd.GeoDataFrame({"name": text(table.frame, find_column(table, NAME_NAMES)).map(str)},
                             geometry=table.geometry, crs=table.geometry.crs)
    if layer == "streets":
        frame = _classed(table, frame, language)
    if layer in ("stalls", "service_points"):
        frame["hours"] = _hours(table, language)
    if layer == "frontage":
        frame["shop_code"] = _shop_codes(table, language)
    allowed = SHAPES[layer]
    for row, geom in frame.geometry.items():
        if geom is None or geom.is_empty:
            _refuse(table.source, row, "geometry", language, en="is empty", zh="几何为空")
        if geom.geom_type not in allowed:
            _refuse(table.source, row, "geometry", language,
                    en=f"is a {geom.geom_type}; the {layer} layer takes {' or '.join(allowed)}",
                    zh=f"是 {geom.geom_type}；{layer} 图层只接受 {'、'.join(allowed)}")
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            _refuse(table.source, row, "geometry", language, en=f"invalid geometry: {reason}",
                    zh=f"几何无效：{reason}")
    return frame


def _hours(table: RawTable, language: str) -> list[str | None]:
    """Each feature's opening hours (OSM syntax), checked; no column or an empty cell: no limit stated."""
    column = find_column(table, HOURS_NAMES)
    if column is None:
        return [None] * len(table.frame)
    out: list[str | None] = []
    for row, value in text(table.frame, column).items():
        value = "" if value is None or value != value else str(value).strip()  # None/NaN: empty cell
        if value:
            try:
                parse_hours(value)
            except ValueError as exc:
                _refuse(table.source, row, column, language, en=f"{value!r} is {exc}",
                        zh=f"{value!r} 不是 OpenStreetMap opening_hours 写法（如 Mo-Su 18:00-23:00）")
        out.append(value or None)
    return out


def _shop_codes(table: RawTable, language: str) -> list[str]:
    column = find_column(table, SHOP_NAMES)
    if column is None:
        _refuse(table.source, 1, "shop_code", language,
                en=f"missing column; a frontage zone names its shop; accepted names: {', '.join(SHOP_NAMES)}; "
                   f"the file has: {', '.join(table.columns)}",
                zh=f"缺少店铺编号列（门前三包区域须对应店铺）；可用列名：{', '.join(SHOP_NAMES)}；"
                   f"文件中的列：{', '.join(table.columns)}")
    codes = text(table.frame, column).map(lambda v: "" if v is None or v != v else str(v).strip())
    for row in codes.index[codes == ""]:
        _refuse(table.source, row, column, language, en="is empty; name the shop whose frontage this is",
                zh="为空；请填写该门前区域所属店铺的编号")
    return codes.tolist()


def _classed(table: RawTable, frame: gpd.GeoDataFrame, language: str) -> gpd.GeoDataFrame:
    class_column = find_column(table, CLASS_NAMES)
    highway_column = find_column(table, HIGHWAY_NAMES)
    if class_column is None and highway_column is not None:
        # OSM-tagged roads: the highway table decides, and paths, steps, tracks are not streets.
        values = text(table.frame, highway_column)
        return class_highways(frame.assign(highway=values)).drop(columns="highway")
    if class_column is None:
        _refuse(table.source, 1, "class", language,
                en=f"missing column; accepted names: {', '.join(CLASS_NAMES + HIGHWAY_NAMES)}; "
                   f"the file has: {', '.join(table.columns)}",
                zh=f"缺少道路等级列；可用列名：{', '.join(CLASS_NAMES + HIGHWAY_NAMES)}；"
                   f"文件中的列：{', '.join(table.columns)}")
    values = text(table.frame, class_column).astype(str).str.strip()
    lookup = {**CLASS_ALIASES, **HIGHWAY_CLASSES}
    classes = values.str.lower().map(lookup)
    for row, value in values[classes.isna()].items():
        _refuse(table.source, row, class_column, language,
                en=f"unknown street class {value!r}; allowed: main, street, lane (主干道, 街, 巷) "
                   "or an OSM highway value",
                zh=f"未知道路等级 {value!r}；可用：main、street、lane（主干道、街、巷）或 OSM highway 值")
    return frame.assign(**{"class": classes.to_numpy()})


def _to_wgs84(table: RawTable, geometry: gpd.GeoSeries, *, crs: str | None, coords: str, notes: list[str],
              language: str) -> gpd.GeoSeries:
    source_crs = parse_crs(crs) if crs else geometry.crs
    xy = shapely.get_coordinates(np.asarray(geometry.values, dtype=object))
    lonlat_like = len(xy) == 0 or (np.abs(xy[:, 0]).max() <= 180 and np.abs(xy[:, 1]).max() <= 90)
    if source_crs is None:
        if not lonlat_like:
            _refuse(table.source, 1, "geometry", language,
                    en="the file declares no CRS and its coordinates are not longitude/latitude; "
                       "give --crs (e.g. EPSG:4549)",
                    zh="文件未声明坐标参考系，且坐标不是经纬度；请用 --crs 指定（如 EPSG:4549）")
        source_crs = CRS.from_epsg(4326)
        notes.append("the file declares no CRS; its coordinates look like longitude/latitude, read as EPSG:4326")
    source_crs = CRS.from_user_input(source_crs)
    if coords != "wgs84" and not source_crs.is_geographic:
        _refuse(table.source, 1, "--coords", language,
                en=f"--coords {coords} applies to longitude/latitude; the file is in {source_crs.to_string()}",
                zh=f"--coords {coords} 只适用于经纬度；该文件的坐标参考系是 {source_crs.to_string()}")
    try:
        result = geometry.set_crs(source_crs, allow_override=True).to_crs(4326)
    except Exception as exc:  # pyproj raises ProjError/CRSError for a damaged or unusable CRS
        _refuse(table.source, 1, "geometry", language,
                en=f"its CRS cannot be converted to EPSG:4326 ({str(exc).splitlines()[0]}); give --crs",
                zh=f"其坐标参考系无法转换为 EPSG:4326（{str(exc).splitlines()[0]}）；请用 --crs 指定")
    if not source_crs.equals(CRS.from_epsg(4326)):
        notes.append(f"coordinates reprojected from {source_crs.to_string()} to EPSG:4326")
    if coords != "wgs84":
        result = unshift(result, source=coords)
        notes.append(f"coordinates converted from {coords.upper()} to WGS84")
    return result


def _clipped(frame: gpd.GeoDataFrame, boundary: shapely.Geometry | None, source: str, language: str,
             notes: list[str]) -> gpd.GeoDataFrame:
    if boundary is None:  # removed by another writer since the file was read
        _refuse(source, 1, "--layer", language, en="no district boundary is stored; import it first",
                zh="数据库中尚无街区边界；请先导入边界")
    clipped = clip_streets(frame, boundary)
    if clipped.empty:
        _refuse(source, 1, "geometry", language,
                en="no street of the file lies inside the stored district boundary (check --coords and --crs)",
                zh="文件中没有任何道路位于已存街区边界内（请检查 --coords 与 --crs）")
    by_class = clipped["class"].value_counts().sort_index()
    notes.append(f"{len(frame)} streets clipped to the district boundary: {len(clipped)} line parts kept ("
                 + ", ".join(f"{name} {count}" for name, count in by_class.items()) + ")")
    return clipped


def _check_overlap(frame: gpd.GeoDataFrame, stored: shapely.Geometry, source: str, language: str) -> None:
    new = shapely.union_all(frame.geometry.values)
    if overlap_share(new, stored) > 0:
        return
    west, south, east, north = (round(v, 5) for v in stored.bounds)
    new_bounds = ", ".join(f"{v:.5f}" for v in new.bounds)
    _refuse(source, 1, "geometry", language,
            en=f"the boundary ({new_bounds}) does not overlap the district stored in the database "
               f"({west}, {south}, {east}, {north}); one district per database: use a new database "
               "for another district",
            zh=f"该边界（{new_bounds}）与数据库中已存的街区边界（{west}, {south}, {east}, {north}）不重叠；"
               "每个数据库只存一个街区，其他街区请使用新的数据库")


def _check_shops(session, frame: gpd.GeoDataFrame, source: str, language: str) -> None:
    known = known_shop_codes(session, frame["shop_code"].tolist())
    for row, code in frame["shop_code"].items():
        if code not in known:
            _refuse(source, row, "shop_code", language, en=f"no shop {code!r} in the register",
                    zh=f"店铺名册中没有编号为 {code!r} 的店铺")


def _refuse(source: str, row, field_name: str, language: str, *, en: str, zh: str):
    raise DistrictRefused(source, int(row), field_name, en=en, zh=zh, language=language)

