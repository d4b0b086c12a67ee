"""Reading a district's map files beyond the register formats: KML and OpenStreetMap.

GeoJSON, GeoPackage and Shapefile go through :mod:`pipelines.readers` like
every upload. KML is parsed by Python itself (as GeoJSON is), so a
``NetworkLink`` can never make GDAL fetch anything. An OpenStreetMap extract
(``.osm.pbf`` or ``.osm`` XML) is read from memory by GDAL's OSM driver
through pyogrio: its ``lines`` layer for streets, its ``multipolygons`` layer
for a boundary relation. Both give a :class:`~pipelines.readers.RawTable`
whose row numbers are feature numbers from 1.
"""

from __future__ import annotations

import io
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from pipelines.readers import MAX_BYTES, InputFileError, RawTable, check_user_name, read_path
from pipelines.validation import text

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")


class DistrictRefused(InputFileError):
    """A district file refused as a whole; the message names file, feature and field."""

    def __init__(self, source: str, row: int, field: str, *, en: str, zh: str, language: str = "zh"):
        self.source, self.row, self.field, self.en, self.zh = source, row, field, en, zh
        Exception.__init__(self, self.text(language))

    def text(self, language: str) -> str:
        if language == "en":
            return f"{self.source} feature {self.row} field {self.field}: {self.en}"
        return f"{self.source} 第 {self.row} 个要素 字段 {self.field}：{self.zh}"


def is_osm(name: str) -> bool:
    return name.lower().endswith(OSM_SUFFIXES)


def read_map_file(path: Path) -> RawTable:
    """A KML file, or any file :func:`pipelines.readers.read_path` reads."""
    if path.suffix.lower() == ".kml":
        return read_kml(_local_bytes(path), path.name)
    return read_path(path)


def _local_bytes(path: Path) -> bytes:
    source = check_user_name(str(path))
    if not path.is_file():
        raise InputFileError(source, 1, "(file)", f"no such file: {path}")
    if path.stat().st_size > MAX_BYTES:
        raise InputFileError(source, 1, "(file)", f"larger than {MAX_BYTES // 2**20} MB")
    return path.read_bytes()


# --- KML --------------------------------------------------------------------


def read_kml(data: bytes, source: str) -> RawTable:
    """Placemarks of a KML document: their ``name`` and geometry (KML is always WGS84)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputFileError(source, exc.position[0], "(xml)", f"not KML: {exc}") from None
    names, geometries = [], []
    for number, placemark in enumerate((e for e in root.iter() if _tag(e) == "Placemark"), start=1):
        name = next((c.text or "" for c in placemark if _tag(c) == "name"), "")
        shapes = [_kml_shape(e, source, number) for e in placemark.iter()
                  if _tag(e) in ("Point", "LineString", "Polygon")]
        names.append(name.strip())
        geometries.append(None if not shapes else shapes[0] if len(shapes) == 1
                          else shapely.GeometryCollection(shapes))
    if not geometries:
        raise InputFileError(source, 1, "(data)", "the KML file holds no Placemark")
    frame = pd.DataFrame({"name": names}, index=pd.RangeIndex(1, len(names) + 1, name="row"))
    geometry = gpd.GeoSeries(geometries, index=frame.index, crs=4326)
    return RawTable(source, "kml", frame, geometry=geometry)


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _kml_coords(element: ET.Element, source: str, number: int) -> list[tuple[float, float]]:
    found = next((e for e in element.iter() if _tag(e) == "coordinates"), None)
    try:
        return [tuple(float(v) for v in chunk.split(",")[:2]) for chunk in (found.text or "").split()]
    except (AttributeError, ValueError):
        raise InputFileError(source, number, "coordinates", "not KML coordinates "
                             "(lon,lat[,alt] separated by spaces)") from None


def _kml_shape(element: ET.Element, source: str, number: int) -> shapely.Geometry:
    kind = _tag(element)
    try:
        if kind == "Point":
            return shapely.Point(_kml_coords(element, source, number)[0])
        if kind == "LineString":
            return shapely.LineString(_kml_coords(element, source, number))
        rings = {part: [_kml_coords(r, source, number) for r in element.iter() if _tag(r) == part]
                 for part in ("outerBoundaryIs", "innerBoundaryIs")}
        return shapely.Polygon(rings["outerBoundaryIs"][0], rings["innerBoundaryIs"])
    except (IndexError, ValueError, shapely.errors.GEOSException) as exc:
        raise InputFileError(source, number, "coordinates", f"a {kind} that cannot be built: {exc}") from None


# --- OpenStreetMap ----------------------------------------------------------


def read_osm(path: Path, *, layer: str, relation: int | None, bbox=None, language: str = "zh") -> RawTable:
    """The highways (``layer="streets"``) or one relation's multipolygon (``"boundary"``)."""
    data, source = _local_bytes(path), path.name
    if layer == "streets":
        frame = _osm_layer(data, source, "lines", ["osm_id", "name", "highway"], bbox)
        frame = frame[frame["highway"].notna()]
    else:
        if relation is None:
            raise DistrictRefused(source, 1, "--osm-relation", language=language,
                                  en="an OSM extract holds many areas: give the boundary relation's id with "
                                     "--osm-relation (openstreetmap.org shows it as relation/ID)",
                                  zh="OSM 数据包含许多区域：请用 --osm-relation 给出边界关系的编号"
                                     "（openstreetmap.org 显示为 relation/编号）")
        frame = _osm_layer(data, source, "multipolygons", ["osm_id", "name", "boundary", "admin_level"], None)
        frame = frame[frame["osm_id"].astype(str) == str(relation)]
        if frame.empty:
            raise DistrictRefused(source, 1, "--osm-relation", language=language,
                                  en=f"the extract holds no multipolygon relation {relation}; its ways may be "
                                     "cut off by the extract: cut it with osmium extract --strategy complete_ways",
                                  zh=f"该数据中没有编号为 {relation} 的多边形关系；其路段可能被裁掉了："
                                     "请用 osmium extract --strategy complete_ways 裁剪")
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    attributes = frame.drop(columns=frame.geometry.name).astype(object)
    attributes = attributes.where(attributes.notna(), "")
    table = RawTable(source, "osm", attributes, geometry=frame.geometry)
    table.frame["name"] = text(table.frame, "name").map(str)
    return table


def _osm_layer(data: bytes, source: str, layer: str, columns: list[str], bbox):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(io.BytesIO(data), layer=layer, columns=columns, bbox=bbox)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError and friends
        raise InputFileError(source, 1, "(file)", "not an OpenStreetMap extract (.osm.pbf or .osm): "
                             f"{str(exc).splitlines()[0]}") from None
