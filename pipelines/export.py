"""Export map layers (grids with their loop summary, shops, cases, checks, hotspots).

:func:`export_layers` gathers the layers from the database through the
governance queries (scoped by a viewer, district-wide for the CLI) and
:func:`write_layers` writes them in one of seven formats. Both return plain
results and never print; the dashboard calls them for its downloads.

Rules where the formats differ:

- **Atomic.** Everything is written into a temporary folder beside the
  target and moved into place at the end, so a failed export never destroys
  an earlier file.
- **Several layers.** ``gpkg`` holds every layer in one file. The other
  formats hold one layer per file: with more than one layer, ``out`` is a
  folder receiving ``<layer>.<ext>`` files.
- **CRS.** EPSG:4326 unless ``crs`` is given. GeoJSON is RFC 7946 (always
  WGS84) when the CRS is EPSG:4326; with another CRS it is written as
  GeoJSON 2008 with a ``crs`` member, since RFC 7946 allows WGS84 only. KML
  is WGS84 by definition and refuses another CRS. CSV has its geometry as
  WKT in a ``WKT`` column, is UTF-8 with a byte-order mark (Excel on Chinese
  Windows then reads it), and carries its CRS in a ``.prj`` sidecar, which
  GDAL and QGIS read.
- **Shapefile.** Field names are cut to 10 bytes, as DBF counts them (made unique
  by a numeric suffix) and datetimes become ISO text. A ``.zip`` target holds the
  Shapefile parts and ``fields.txt``, the list of long → short names; a
  ``.shp`` target gets its parts and ``<name>.fields.txt`` beside it.
- **Lists** (a shop's badges) become ``;``-separated text everywhere.
- **Times** (stored in UTC) follow the shared rule "Times in files": CSV,
  GeoJSON and KML carry local time (``LINPU_TIMEZONE``) with its offset
  (``2026-07-01T15:20:00+08:00``); GeoPackage, FlatGeobuf and Parquet keep
  the UTC datetime (their formats say it is UTC) plus a ``<column>_local``
  text column in that form; a Shapefile gets the local text alone (DBF has
  no time zone).
- **Missing values** are empty (null) cells in every format, never the text
  ``nan`` or ``None``.
- **Formulas (CSV injection).** A spreadsheet that opens a CSV runs a cell
  beginning with ``=``, ``+``, ``-`` or ``@`` as a formula, and some also after
  a leading tab or carriage return (OWASP "CSV injection"). In a CSV every
  text cell beginning with one of these six characters is written with a
  leading ``'`` (:mod:`pipelines.csv_safety`, the rule every CSV for people
  shares), so the spreadsheet shows it as text; numeric columns
  (coordinates, counts, z-scores, negative numbers) are written as numbers,
  untouched. The other formats are read by GIS software as typed fields, not
  parsed as formulas (Excel opens a Shapefile's DBF as values too), so they
  keep the text exactly as typed. Linpu writes no XLSX.
- **GCJ-02** (``coords="gcj02"``, for AMap-based tools): the geometries are
  offset with :func:`geo.coords.to_gcj02` just before writing, in EPSG:4326
  only (refused with another ``crs``, since GCJ-02 is an offset of WGS84
  longitude/latitude). GCJ-02 has no EPSG code, so the files are labelled
  EPSG:4326 and say GCJ-02 in their name (a ``-gcj02`` suffix) and, where the
  format has a description (GeoPackage, GeoJSON, FlatGeobuf), there too.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from geo.coords import to_gcj02
from governance import loop_summary, queries
from governance.clock import district_zone, local_iso
from governance.db import transaction
from governance.errors import ConfigurationError, LinpuError
from governance.filters import CaseFilter
from governance.hotspots import case_hotspots
from governance.permissions import system_viewer
from governance.rollups import with_levels
from pipelines.csv_safety import spreadsheet_safe

LAYERS = ("grids", "shops", "cases", "checks", "hotspots")
FORMATS = {
    "gpkg": ("GPKG", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "parquet": (None, ".parquet"),
    "fgb": ("FlatGeobuf", ".fgb"),
    "shp": ("ESRI Shapefile", ".shp.zip"),
    "kml": ("KML", ".kml"),
    "csv": ("CSV", ".csv"),
}

COORDS = ("wgs84", "gcj02")
GCJ02_DESCRIPTION = "Coordinates are GCJ-02 (AMap/Tencent offset of WGS84), not true WGS84"

Progress = Callable[[str, int, int], None]


class ExportError(LinpuError):
    """An export that cannot be written as asked."""


@dataclass
class ExportResult:
    """What was written: the files, the features per layer, and notes for the user."""

    format: str
    crs: str
    paths: list[Path] = field(default_factory=list)
    features: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    coords: str = "wgs84"

    def summary(self) -> str:
        layers = ", ".join(f"{name} {n}" for name, n in self.features.items())
        where = ", ".join(str(p) for p in self.paths)
        crs = "GCJ-02 coordinates" if self.coords == "gcj02" else self.crs
        return f"wrote {where} ({self.format}, {crs}): {layers} features"

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "crs": self.crs, "coords": self.coords,
                "paths": [str(p) for p in self.paths], "features": dict(self.features),
                "notes": list(self.notes)}


def _target_crs(crs: str | None, fmt: str, coords: str = "wgs84") -> CRS:
    try:
        target = CRS.from_user_input(crs or "EPSG:4326")
    except Exception:
        raise ConfigurationError(f"--crs {crs!r} is not a CRS pyproj knows (try EPSG:4549)") from None
    if coords not in COORDS:
        raise ConfigurationError(f"--coords {coords!r} is not known; use one of {', '.join(COORDS)}")
    wgs84 = target.equals(CRS.from_epsg(4326))
    if fmt == "kml" and not wgs84:
        raise ConfigurationError("KML is WGS84 (EPSG:4326) by definition; drop --crs or choose "
                                 "another format")
    if coords == "gcj02" and not wgs84:
        kind = "a projected CRS" if target.is_projected else "not EPSG:4326"
        raise ConfigurationError(f"--coords gcj02 offsets WGS84 longitude/latitude and cannot be combined "
                                 f"with --crs {crs} ({kind}); drop --crs or --coords")
    return target


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


_LISTS = (list, tuple, set, frozenset)


def _plain(frame: gpd.GeoDataFrame, *, text_times: bool, typed_times: str = "utc") -> gpd.GeoDataFrame:
    """Values every driver can store: lists joined, enums as text, times by "Times in files".

    ``text_times``: local ISO text with its offset. Else typed datetimes, in UTC
    with a ``<column>_local`` text column beside (``typed_times="utc"``) or in
    local time with their offset (``"local"``, GeoJSON).
    """
    out = frame.copy()
    geometry_name = out.geometry.name
    for column in out.columns:
        if column == geometry_name:
            continue
        series = out[column]
        if series.dtype == object:
            # NaN, NaT or pd.NA in a text column would be written as the text "nan".
            series = out[column] = series.where(series.notna(), None)
            # A column holds one kind of value: judge it by a few, convert it whole.
            sample = series.dropna().head(50).tolist()
            if any(isinstance(v, _LISTS) for v in sample):
                out[column] = [";".join(map(str, v)) if isinstance(v, _LISTS) else ("" if v is None else v)
                               for v in series.tolist()]
            elif any(hasattr(v, "value") and not isinstance(v, str) for v in sample):
                out[column] = [getattr(v, "value", v) for v in series.tolist()]
            elif sample and all(isinstance(v, datetime) for v in sample):
                out[column] = pd.to_datetime(series, utc=True)
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            stamps = pd.to_datetime(out[column], utc=True)
            if text_times:
                out[column] = local_iso(stamps).to_numpy()
            elif typed_times == "local":
                out[column] = stamps.dt.tz_convert(district_zone())
            else:
                out[column] = stamps
                out.insert(out.columns.get_loc(column) + 1, f"{column}_local", local_iso(stamps).to_numpy())
        elif text_times and str(out[column].dtype) == "bool":
            out[column] = out[column].astype(int)
    return out


def _cut(name: str, limit: int) -> str:
    """The longest prefix of ``name`` whose UTF-8 form fits ``limit`` bytes (DBF counts bytes)."""
    while len(name.encode("utf-8")) > limit:
        name = name[:-1]
    return name


def _short_names(columns: Iterable[str], geometry_name: str) -> dict[str, str]:
    """Unique Shapefile field names of at most 10 bytes (10 ASCII or 3 Chinese characters)."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        if column == geometry_name:
            continue
        short = _cut(column, 10)
        serial = 1
        while short.lower() in used:
            suffix = str(serial)
            short = _cut(column, 10 - len(suffix)) + suffix
            serial += 1
        used.add(short.lower())
        mapping[column] = short
    return mapping


def _write_frame(frame: gpd.GeoDataFrame, path: Path, **options: Any) -> None:
    """``pyogrio.write_dataframe`` through Arrow: five times faster on a city's 500,000 cases
    (2.9 s instead of 14.7 s to GeoPackage). A column Arrow cannot type (values of mixed
    kinds) is refused before anything is written, and then goes the row-by-row way."""
    import pyarrow as pa  # late, as pyogrio loads it: only a written export pays for it

    try:
        pyogrio.write_dataframe(frame, path, use_arrow=True, **options)
    except pa.ArrowException:
        pyogrio.write_dataframe(frame, path, **options)


def _write_one(frame: gpd.GeoDataFrame, fmt: str, path: Path, layer: str, crs: CRS, notes: list[str],
               coords: str = "wgs84") -> list[Path]:
    """Write one layer into ``path`` (inside the temporary folder); return every file made."""
    driver, _ = FORMATS[fmt]
    frame = to_gcj02(frame) if coords == "gcj02" else frame.to_crs(crs)
    described = {"DESCRIPTION": GCJ02_DESCRIPTION} if coords == "gcj02" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        if fmt == "parquet":
            _plain(frame, text_times=False).to_parquet(path, index=False)
            return [path]
        if fmt == "gpkg":
            _write_frame(_plain(frame, text_times=False), path, layer=layer, driver=driver,
                                    append=path.exists(), layer_options=described)
            return [path]
        if fmt == "geojson":
            rfc = crs.equals(CRS.from_epsg(4326))
            if not rfc:
                notes.append(f"{path.name}: GeoJSON with a 'crs' member ({_crs_name(crs)}); RFC 7946 "
                             "allows only WGS84")
            _write_frame(_plain(frame, text_times=False, typed_times="local"), path, layer=layer,
                                    driver=driver, layer_options={"RFC7946": "YES" if rfc else "NO",
                                                   "WRITE_NAME": "NO", **described})
            return [path]
        if fmt == "fgb":
            _write_frame(_plain(frame, text_times=False), path, layer=layer, driver=driver,
                                    layer_options=described)
            return [path]
        if fmt == "kml":
            _write_frame(_plain(frame, text_times=True), path, layer=layer, driver=driver)
            return [path]
        if fmt == "csv":
            safe = spreadsheet_safe(_plain(frame, text_times=True), skip=[frame.geometry.name])
            _write_frame(safe, path, layer=layer, driver=driver,
                                    layer_options={"GEOMETRY": "AS_WKT", "WRITE_BOM": "YES"})
            prj = path.with_suffix(".prj")
            # WKT1 with AUTHORITY keeps the EPSG code, which the ESRI dialect drops.
            prj.write_text(crs.to_wkt("WKT1_GDAL"), encoding="utf-8")
            return [path, prj]
        if fmt == "shp":
            return _write_shapefile(frame, path, layer, notes)
    raise ExportError(f"unknown format {fmt!r}")


def _write_shapefile(frame: gpd.GeoDataFrame, path: Path, layer: str, notes: list[str]) -> list[Path]:
    plain = _plain(frame, text_times=True)
    mapping = _short_names(plain.columns, plain.geometry.name)
    plain = plain.rename(columns=mapping)
    listing = "\n".join(f"{short}\t{long}" for long, short in mapping.items()) + "\n"
    zipped = path.name.endswith(".zip")
    folder = path.parent / (layer + ".parts") if zipped else path.parent
    folder.mkdir(exist_ok=True)
    stem = layer if zipped else path.name[: -len(".shp")]
    _write_frame(plain, folder / f"{stem}.shp", layer=stem, driver="ESRI Shapefile",
                            layer_options={"ENCODING": "UTF-8"})
    renamed = [f"{long}→{short}" for long, short in mapping.items() if long != short]
    if renamed:
        notes.append(f"{path.name}: Shapefile field names cut to 10 characters: " + ", ".join(renamed))
    if not zipped:
        (folder / f"{stem}.fields.txt").write_text("short\tlong\n" + listing, encoding="utf-8")
        return sorted(folder.glob(f"{stem}.*"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.glob(f"{stem}.*")):
            archive.write(part, part.name)
        archive.writestr("fields.txt", "short\tlong\n" + listing)
    shutil.rmtree(folder)
    return [path]


def _marked(name: str, fmt: str, coords: str) -> str:
    """``name`` with ``-gcj02`` before its extension when the coordinates are GCJ-02.

    Examples
    --------
    >>> _marked("cases.csv", "csv", "gcj02"), _marked("x.shp.zip", "shp", "gcj02"), _marked("g.fgb", "fgb", "wgs84")
    ('cases-gcj02.csv', 'x-gcj02.shp.zip', 'g.fgb')
    """
    if coords != "gcj02" or "gcj02" in name.lower():
        return name
    extension = next((e for e in (FORMATS[fmt][1], Path(name).suffix) if e and name.endswith(e)), "")
    return name[: len(name) - len(extension)] + "-gcj02" + extension


def write_layers(
    layers: dict[str, gpd.GeoDataFrame],
    fmt: str,
    out: Path,
    *,
    crs: str | None = None,
    coords: str = "wgs84",
    progress: Progress | None = None,
) -> ExportResult:
    """Write GeoDataFrames (layer name → frame) as ``fmt`` to ``out``, atomically.

    With one layer (or ``gpkg``) ``out`` is the file; with several layers in a
    one-layer format ``out`` is a folder of ``<layer><ext>`` files. With
    ``coords="gcj02"`` the files' names end in ``-gcj02``.

    Examples
    --------
    >>> import shapely
    >>> frame = gpd.GeoDataFrame({"code": ["G001"]}, geometry=[shapely.Point(118.9, 25.12)], crs=4326)
    >>> result = write_layers({"grids": frame}, "geojson", Path(tempfile.mkdtemp()) / "g.geojson")
    >>> result.features
    {'grids': 1}
    """
    if fmt not in FORMATS:
        raise ConfigurationError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not layers:
        raise ExportError("nothing to export: no layers")
    target_crs = _target_crs(crs, fmt, coords)
    tick = progress or (lambda *_: None)
    out = Path(out)
    result = ExportResult(fmt, _crs_name(target_crs), coords=coords)
    into_folder = len(layers) > 1 and fmt != "gpkg"
    if not into_folder and not out.suffix:
        out = out.with_name(out.name + FORMATS[fmt][1])  # GDAL picks drivers by extension
    parent = out if into_folder else out.parent
    parent.mkdir(parents=True, exist_ok=True)
    if coords == "gcj02":
        result.notes.append(GCJ02_DESCRIPTION + "; the files are labelled EPSG:4326")
    staging = Path(tempfile.mkdtemp(prefix=".linpu-export-", dir=parent))
    try:
        made: list[Path] = []
        for done, (name, frame) in enumerate(layers.items()):
            tick("export", done, len(layers))
            if frame.crs is None:
                raise ExportError(f"layer {name} has no CRS")
            path = staging / _marked(name + FORMATS[fmt][1] if into_folder else out.name, fmt, coords)
            written = _write_one(frame, fmt, path, name, target_crs, result.notes, coords)
            made += [p for p in written if p not in made]
            result.features[name] = len(frame)
        tick("export", len(layers), len(layers))
        for path in made:
            final = parent / path.name
            os.replace(path, final)  # atomic within one file system
            result.paths.append(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


# --- gathering layers from the database -----------------------------------


def gather_layers(session, names: Iterable[str], *, filters: CaseFilter | None = None, viewer=None,
                  now: datetime | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The named layers as GeoDataFrames in EPSG:4326, through the governance queries."""
    case_filter = filters or CaseFilter()
    viewer = viewer or system_viewer()
    now = now or datetime.now(UTC)
    layers: dict[str, gpd.GeoDataFrame] = {}
    grids_cache: dict[str, gpd.GeoDataFrame] = {}

    def grids_with_summary() -> gpd.GeoDataFrame:
        if "grids" not in grids_cache:
            grids_cache["grids"] = loop_summary.grid_layer(session, viewer, filters=case_filter, now=now)
        return grids_cache["grids"]

    for name in names:
        if name == "grids":
            layers[name] = with_levels(session, grids_with_summary())
        elif name == "shops":
            shops = queries.open_shops(session, viewer)
            if case_filter.grid_codes:
                shops = shops[shops["grid_code"].isin(case_filter.grid_codes)]
            layers[name] = shops.reset_index(drop=True)
        elif name == "cases":
            layers[name] = queries.cases_frame(session, viewer, filters=case_filter, now=now)
        elif name == "checks":
            layers[name] = queries.checks_frame(session, viewer, filters=case_filter)
        elif name == "hotspots":
            layers[name] = hotspot_layer(session, viewer, case_filter)
        else:
            raise ConfigurationError(f"unknown layer {name!r}; use one of {', '.join(LAYERS)} or all")
    return layers


def hotspot_layer(session, viewer, case_filter: CaseFilter) -> gpd.GeoDataFrame:
    """The grids in scope with the cases of the filtered period, their Gi* figures and class,
    and, on every row, the method and its thresholds (so a file read alone still says them)."""
    report = case_hotspots(session, viewer, filters=case_filter)
    frame = report.grids
    if case_filter.grid_codes:
        frame = frame[frame["code"].isin(case_filter.grid_codes)]
    return frame.assign(period_cases=report.total_cases, min_cases=report.min_cases,
                        min_period_cases=report.min_total, method=report.method).reset_index(drop=True)


def export_layers(
    engine,
    *,
    layers: Iterable[str],
    fmt: str,
    out: Path,
    filters: CaseFilter | None = None,
    crs: str | None = None,
    coords: str = "wgs84",
    viewer=None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Read the layers (``all`` for every layer) from the database and write them.

    The one export path: ``linpu export`` calls it with its ``--out``, and
    :func:`export_download` (the dashboard's download) with a temporary folder.
    """
    names = list(LAYERS) if "all" in layers else list(dict.fromkeys(layers))
    _target_crs(crs, fmt, coords)  # refuse a bad CRS before reading anything
    with transaction(engine) as session:
        frames = gather_layers(session, names, filters=filters, viewer=viewer, now=now)
    return write_layers(frames, fmt, out, crs=crs, coords=coords, progress=progress)


MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
    "fgb": "application/octet-stream",
    "shp": "application/zip",
    "kml": "application/vnd.google-earth.kml+xml",
    "csv": "text/csv",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class Download:
    """An export as one file to hand over: its name, bytes and media type, with the exporter's report."""

    name: str
    content: bytes
    media_type: str
    features: dict[str, int]
    notes: tuple[str, ...]


def export_download(
    engine,
    *,
    layers: Iterable[str],
    fmt: str,
    filters: CaseFilter | None = None,
    crs: str | None = None,
    coords: str = "wgs84",
    viewer=None,
    now: datetime | None = None,
    basename: str = "linpu",
) -> Download:
    """The export as a download, written by :func:`export_layers` into a temporary folder.

    One file is returned as it is; several (one-layer formats with several
    layers, or a CSV with its ``.prj``) come zipped, each file's bytes those
    that ``linpu export`` writes. The viewer scopes the layers, so a grid
    leader downloads only their grids.
    """
    with tempfile.TemporaryDirectory(prefix="linpu-download-") as folder:
        names = list(LAYERS) if "all" in layers else list(dict.fromkeys(layers))
        out = Path(folder) / (basename + (FORMATS[fmt][1] if len(names) == 1 or fmt == "gpkg" else ""))
        result = export_layers(engine, layers=names, fmt=fmt, out=out, filters=filters, crs=crs,
                               coords=coords, viewer=viewer, now=now)
        report = {"features": dict(result.features), "notes": tuple(result.notes)}
        if len(result.paths) == 1:
            path = result.paths[0]
            return Download(path.name, path.read_bytes(), MEDIA_TYPES[fmt], **report)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in result.paths:
                archive.write(path, path.name)
        name = _marked(f"{basename}-{fmt}.zip", fmt, coords)
        return Download(name, buffer.getvalue(), MEDIA_TYPES["zip"], **report)


def export_bytes(engine, **options: Any) -> tuple[str, bytes, str]:
    """:func:`export_download` as ``(file name, content, media type)``; it takes the same options."""
    download = export_download(engine, **options)
    return download.name, download.content, download.media_type
