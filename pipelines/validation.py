"""Row-level checks shared by the ingest jobs: columns, numbers, places, dates, codes.

Every check is vectorised over a whole column and returns the parsed values
together with a list of :class:`~pipelines.readers.Problem` for the rows it
refuses, so a file of 100,000 rows is judged in well under a second and the
report names every bad row, not only the first one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.coords import SYSTEMS, convert, in_china
from governance.clock import district_zone
from governance.errors import NUL_REFUSAL, ConfigurationError
from pipelines.readers import InputFileError, Problem, RawTable

#: A point this far outside the district boundary is refused (GPS in a
#: narrow street drifts by tens of metres; a wrong district is kilometres off).
OUTSIDE_TOLERANCE_M = 100.0

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "gps经度", "经度坐标")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "gps纬度", "纬度坐标")

TRUE_WORDS = {"true", "1", "yes", "y", "t", "是", "对", "有", "√", "✓"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "否", "不是", "无", "", "×"}


def norm(name: str) -> str:
    """Header normal form: lower case, no spaces, ``-``/``.``/space as ``_``."""
    return re.sub(r"[\s\-.（）()]+", "_", str(name).strip().lower()).strip("_")


def find_column(table: RawTable, names: Iterable[str]) -> str | None:
    """The first column of ``table`` whose normal form is one of ``names``."""
    wanted = [norm(n) for n in names]
    by_norm = {norm(c): c for c in table.columns}
    return next((by_norm[w] for w in wanted if w in by_norm), None)


def require_columns(table: RawTable, spec: Mapping[str, Iterable[str]], required: Iterable[str]) -> dict[str, str]:
    """Map each field of ``spec`` to the table's column; refuse the file if a required one is missing."""
    found = {}
    for key, names in spec.items():
        column = find_column(table, names)
        if column is not None:
            found[key] = column
    missing = [key for key in required if key not in found]
    if missing:
        key = missing[0]
        raise InputFileError(
            table.source, 1, key,
            f"missing column; accepted names: {', '.join(spec[key])}; "
            f"the file has: {', '.join(table.columns)}",
        )
    return found


@dataclass
class Rows:
    """Problems found so far, per row; a row with any problem is refused."""

    source: str
    index: pd.Index
    problems: list[Problem] = field(default_factory=list)

    def add(self, row: int, field_name: str, message: str) -> None:
        self.problems.append(Problem(int(row), field_name, message))

    def add_many(self, rows: Iterable[int], field_name: str, message) -> None:
        for row in rows:
            self.add(row, field_name, message(row) if callable(message) else message)

    @property
    def bad_rows(self) -> set[int]:
        return {p.row for p in self.problems}

    def good_mask(self) -> np.ndarray:
        return ~self.index.isin(list(self.bad_rows))


def text(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(object)


def required_text(rows: Rows, values: pd.Series, field_name: str, *, max_length: int) -> pd.Series:
    for row in values.index[values == ""]:
        rows.add(row, field_name, "is empty; a value is required")
    for row in values.index[values.str.len() > max_length]:
        rows.add(row, field_name, f"longer than {max_length} characters")
    return values


def optional_text(rows: Rows, values: pd.Series, field_name: str, *, max_length: int) -> pd.Series:
    """Text that may be empty but not longer than the column holds."""
    for row in values.index[values.str.len() > max_length]:
        rows.add(row, field_name, f"longer than {max_length} characters")
    return values


def no_nul_bytes(rows: Rows, frame: pd.DataFrame, columns: Mapping[str, str]) -> None:
    """Refuse text holding a NUL byte (``\\x00``): PostgreSQL cannot store it, and no export shows it.

    ``columns`` maps field names (used in the message) to the frame's columns.
    """
    for field_name, column in columns.items():
        values = frame[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        hits = values.astype(str).str.contains("\x00", regex=False).to_numpy(dtype=bool)
        for row in values.index[hits]:
            rows.add(row, field_name, f"{NUL_REFUSAL} (the file may be damaged or partly binary)")


def numbers(rows: Rows, values: pd.Series, field_name: str) -> np.ndarray:
    """Parse numbers (a comma as decimal separator is accepted); refuse text."""
    cleaned = values.astype(str).str.replace("，", ",").str.strip()
    cleaned = cleaned.where(~cleaned.str.fullmatch(r"-?\d+,\d+"), cleaned.str.replace(",", "."))
    parsed = np.array(pd.to_numeric(cleaned, errors="coerce"), dtype=float)  # a writable copy
    bad = ~np.isfinite(parsed)
    for row, value in zip(values.index[bad], values[bad], strict=True):
        rows.add(row, field_name, "is empty; a number is required" if value == ""
                 else f"{value!r} is not a number")
    return parsed


def booleans(rows: Rows, values: pd.Series, field_name: str) -> np.ndarray:
    lowered = values.astype(str).str.strip().str.lower()
    result = np.array(lowered.isin(TRUE_WORDS), dtype=bool)
    bad = ~(lowered.isin(TRUE_WORDS) | lowered.isin(FALSE_WORDS))
    for row, value in zip(values.index[bad], values[bad], strict=True):
        rows.add(row, field_name, f"{value!r} is not yes/no (true/false, 是/否, 1/0)")
    return result


def codes(rows: Rows, values: pd.Series, field_name: str, allowed: Iterable[str],
          aliases: Mapping[str, str] | None = None, *, default: str | None = None,
          shown: Iterable[str] | None = None) -> pd.Series:
    """Map values to catalogue codes (code itself, any case, or a Chinese alias).

    ``shown``: the accepted values as a refusal lists them (default the codes), e.g.
    ``governance.words.accepted`` for codes with Chinese and English words."""
    allowed = list(allowed)
    lookup = {a.lower(): a for a in allowed}
    # A word of a code this field does not take (noise in a check file) stays unknown.
    lookup.update({k.lower(): v for k, v in (aliases or {}).items() if v in allowed})
    lowered = values.astype(str).str.strip().str.lower()
    if default is not None:
        lowered = lowered.where(lowered != "", default)
    mapped = lowered.map(lookup)
    bad = mapped.isna()
    for row, value in zip(values.index[bad], values[bad], strict=True):
        if value == "":
            rows.add(row, field_name, "is empty; a value is required")
        else:
            rows.add(row, field_name, f"unknown value {value!r}; allowed: {', '.join(shown or allowed)}")
    return mapped


def times(rows: Rows, values: pd.Series, field_name: str, *, timezone: str | None = None,
          required: bool = True, now=None) -> pd.Series:
    """Parse timestamps; naive ones (field exports from Chinese apps) are local time in ``timezone``
    (default the district's, ``LINPU_TIMEZONE``). Refuse future times."""
    present = values != ""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if present.any():
        raw = values[present].astype(str).str.strip().str.replace("/", "-", regex=False)
        # Vectorised in two passes: stamps with an offset, and local ones without.
        has_offset = raw.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
        for with_offset in (True, False):
            part = raw[has_offset == with_offset]
            if part.empty:
                continue
            if with_offset:
                stamps = pd.to_datetime(part, errors="coerce", format="mixed", utc=True)
            else:
                local = pd.to_datetime(part, errors="coerce", format="mixed")
                stamps = local.dt.tz_localize(timezone or district_zone(), ambiguous="NaT", nonexistent="NaT").dt.tz_convert(UTC)
            parsed[part.index] = stamps.astype("datetime64[ns, UTC]")
        bad = present & parsed.isna()
        for row, value in zip(values.index[bad], values[bad], strict=True):
            rows.add(row, field_name, f"{value!r} is not a date and time (use 2026-07-23 10:57 "
                     "or ISO 8601)")
    if required:
        for row in values.index[~present]:
            rows.add(row, field_name, "is empty; a date and time is required")
    if now is not None:
        future = parsed > pd.Timestamp(now)
        for row, value in zip(values.index[future], values[future], strict=True):
            rows.add(row, field_name, f"{value!r} lies in the future")
    return parsed


# --- places ----------------------------------------------------------------


def parse_crs(value: str) -> CRS:
    """A CRS from ``--crs``; a usage error (exit 2) when pyproj does not know it."""
    try:
        return CRS.from_user_input(value)
    except Exception:  # pyproj raises CRSError and friends
        raise ConfigurationError(f"--crs {value!r} is not a CRS pyproj knows (e.g. EPSG:4549)") from None


def metric_crs_for(lon: float, lat: float) -> CRS:
    """EPSG:4549 around Quanzhou (the DESIGN's metric CRS), else the local UTM zone."""
    if 118.5 <= lon <= 121.5 and 18 <= lat <= 42:
        return CRS.from_epsg(4549)
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


@dataclass
class District:
    """Where points may lie: the stored boundary (or the union of the current grids)."""

    area: shapely.Geometry  # EPSG:4326
    what: str  # "district boundary" or "current grids"
    tolerance_m: float = OUTSIDE_TOLERANCE_M

    def __post_init__(self):
        centre = self.area.centroid
        self.metric = metric_crs_for(centre.x, centre.y)
        metric_area = gpd.GeoSeries([self.area], crs=4326).to_crs(self.metric).iloc[0]
        self._metric_area = metric_area
        self._allowed = gpd.GeoSeries([metric_area.buffer(self.tolerance_m)], crs=self.metric).to_crs(4326).iloc[0]
        shapely.prepare(self._allowed)

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        ok = np.isfinite(lon) & np.isfinite(lat)
        result = np.zeros(len(lon), dtype=bool)
        result[ok] = shapely.contains_xy(self._allowed, lon[ok], lat[ok])
        return result

    def distance_m(self, lon: float, lat: float) -> float:
        point = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(self.metric).iloc[0]
        return float(self._metric_area.distance(point))


def _fmt_distance(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


@dataclass
class Located:
    lon: np.ndarray
    lat: np.ndarray
    notes: list[str]


def locate(rows: Rows, table: RawTable, *, crs: str | None, coords: str, district: District | None,
           required: np.ndarray | None = None) -> Located:
    # Long: every way a row can give its place (columns, CRS, coordinate systems), each refusal naming the row.
    """WGS84 longitude/latitude of every row, from lon/lat columns or the file's geometry.

    ``crs`` is the CRS of the input numbers (default EPSG:4326, or the file's
    own for vector files); ``coords`` says which map-app system lon/lat are in
    (``wgs84``, ``gcj02``, ``bd09``). Rows whose place is missing where
    ``required`` is true, out of range, swapped or outside the district are
    added to ``rows``.
    """
    if coords not in SYSTEMS:
        raise InputFileError(table.source, 1, "(coords)", f"unknown coordinate system {coords!r}; "
                             f"use one of {', '.join(SYSTEMS)}")
    n = len(table.frame)
    required = np.ones(n, dtype=bool) if required is None else required
    notes: list[str] = []
    lon_col, lat_col = find_column(table, LON_NAMES), find_column(table, LAT_NAMES)
    index = table.frame.index
    if lon_col and lat_col:
        lon_text, lat_text = text(table.frame, lon_col), text(table.frame, lat_col)
        absent = ((lon_text == "") & (lat_text == "")).to_numpy() & ~required
        probe = Rows(rows.source, index)
        x = numbers(probe, lon_text, "lon")
        y = numbers(probe, lat_text, "lat")
        rows.problems.extend(p for p in probe.problems if not absent[index.get_loc(p.row)])
        x[absent], y[absent] = np.nan, np.nan
        fields = (lon_col, lat_col)
        source_crs = parse_crs(crs) if crs else CRS.from_epsg(4326)
    elif table.geometry is not None:
        geometry = table.geometry
        source_crs = parse_crs(crs) if crs else geometry.crs
        x, y = _points_of(rows, geometry, required)
        fields = ("geometry", "geometry")
        if source_crs is None:
            if np.nanmax(np.abs(x), initial=0) <= 180 and np.nanmax(np.abs(y), initial=0) <= 90:
                source_crs = CRS.from_epsg(4326)
                notes.append("the file declares no CRS; its coordinates look like longitude/latitude, "
                             "read as EPSG:4326")
            else:
                raise InputFileError(table.source, 1, "geometry",
                                     "the file declares no CRS and its coordinates are not "
                                     "longitude/latitude; give --crs (e.g. EPSG:4549)")
    else:
        if not required.any():
            return Located(np.full(n, np.nan), np.full(n, np.nan), notes)
        raise InputFileError(table.source, 1, "lon",
                             "missing coordinates: no geometry and no longitude/latitude columns; "
                             f"accepted names: {', '.join(LON_NAMES)} / {', '.join(LAT_NAMES)}; "
                             f"the file has: {', '.join(table.columns)}")

    try:
        lon, lat = _to_4326(x, y, source_crs)
    except Exception as exc:  # pyproj raises ProjError/CRSError for a damaged or unusable CRS
        raise InputFileError(table.source, 1, fields[0] if fields[0] == "geometry" else "(crs)",
                             f"its CRS {getattr(source_crs, 'name', source_crs)!r} cannot be converted to "
                             f"EPSG:4326 ({str(exc).splitlines()[0]}); fix the .prj or give --crs") from None
    if source_crs.is_geographic:
        _check_ranges(rows, index, lon, lat, fields, district, coords)
    else:
        notes.append(f"coordinates reprojected from {source_crs.to_string()} to EPSG:4326")
        bad = np.isfinite(x) & ~(np.isfinite(lon) & np.isfinite(lat))
        for row in index[bad]:
            rows.add(row, fields[0], f"cannot be projected from {source_crs.to_string()}")

    if coords != "wgs84":
        lon, lat = convert(lon, lat, source=coords, target="wgs84")
        notes.append(f"coordinates converted from {coords.upper()} to WGS84")

    if district is not None:
        inside = district.contains(lon, lat)
        flagged = rows.bad_rows
        outside = np.isfinite(lon) & ~inside
        for i in np.flatnonzero(outside):
            row = int(index[i])
            if row in flagged:
                continue
            message = (f"({lon[i]:.6f}, {lat[i]:.6f}) lies "
                       f"{_fmt_distance(district.distance_m(lon[i], lat[i]))} outside the {district.what}")
            if coords == "wgs84" and in_china([lon[i]], [lat[i]])[0]:
                there = convert([lon[i]], [lat[i]], source="gcj02", target="wgs84")
                if district.contains(*there)[0]:
                    message += "; it fits as GCJ-02 (AMap/Tencent) coordinates: give --coords gcj02"
            rows.add(row, fields[0], message)
    return Located(lon, lat, notes)


def _points_of(rows: Rows, geometry: gpd.GeoSeries, required: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of a vector layer; a valid polygon stands for its representative point."""
    n = len(geometry)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    values = geometry.values
    for i, (row, geom) in enumerate(zip(geometry.index, values, strict=True)):
        if geom is None or geom.is_empty:
            if required[i]:
                rows.add(row, "geometry", "is empty; a point is required")
            continue
        kind = geom.geom_type
        if kind == "Point":
            x[i], y[i] = geom.x, geom.y
        elif kind in ("Polygon", "MultiPolygon"):
            if not geom.is_valid:
                rows.add(row, "geometry", f"invalid polygon: {shapely.is_valid_reason(geom)}")
                continue
            point = geom.representative_point()
            x[i], y[i] = point.x, point.y
        else:
            rows.add(row, "geometry", f"is a {kind}; a point (or a shop's polygon) is required")
    return x, y


def _to_4326(x: np.ndarray, y: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    if crs.equals(CRS.from_epsg(4326)):
        return x.copy(), y.copy()
    transformer = Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = transformer.transform(x, y, errcheck=False)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon[~np.isfinite(lon)], lat[~np.isfinite(lat)] = np.nan, np.nan
    return lon, lat


def _check_ranges(rows: Rows, index: pd.Index, lon: np.ndarray, lat: np.ndarray, fields,
                  district: District | None, coords: str) -> None:
    """Out-of-range and swapped longitude/latitude; a swap is named with its fix."""
    finite = np.isfinite(lon) & np.isfinite(lat)
    out = finite & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    swapped_fits = np.zeros(len(lon), dtype=bool)
    if district is not None:
        swap_lon, swap_lat = lat, lon
        if coords != "wgs84":
            swap_lon, swap_lat = convert(lat, lon, source=coords, target="wgs84")
        swapped_fits = finite & district.contains(swap_lon, swap_lat)
        own_fits = district.contains(lon, lat)
        swapped_fits &= ~own_fits
    else:
        swapped_fits = finite & out & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
    for i in np.flatnonzero(swapped_fits):
        rows.add(index[i], fields[0], f"longitude {lon[i]:g} and latitude {lat[i]:g} look swapped: "
                 f"the point would be ({lat[i]:g}, {lon[i]:g}); exchange the {fields[0]} and "
                 f"{fields[1]} values")
    for i in np.flatnonzero(out & ~swapped_fits):
        if abs(lon[i]) > 180:
            rows.add(index[i], fields[0], f"{lon[i]:g} is outside -180..180")
        else:
            rows.add(index[i], fields[1], f"{lat[i]:g} is outside -90..90")


def swap_note(problems: list[Problem], n_rows: int) -> str | None:
    """One line when most rows are swapped: the header, not the rows, is wrong."""
    swapped = sum(1 for p in problems if "look swapped" in p.message)
    if swapped and swapped >= max(2, n_rows // 2):
        return (f"{swapped} of {n_rows} rows have longitude and latitude swapped: the file's "
                "longitude and latitude columns are probably exchanged; rename the two headers")
    return None
