"""Reading tables users hand us: CSV, XLSX, GeoJSON, GeoPackage, Shapefile.

Everything is read from bytes in memory. A file name is used only for its
extension and to name the file in messages; it never reaches GDAL, so a name
typed in the browser (``/vsicurl/http://…``, ``/etc/passwd``) cannot make
GDAL open anything. Formats are checked by their magic bytes, and only
formats that cannot reference other files are handed to GDAL (GeoPackage,
a zipped Shapefile); GeoJSON is parsed by Python itself. A VRT or any other
format is refused.

Row numbers in messages are what the user sees: for CSV and XLSX the
spreadsheet row, the header being row 1 (so the first data row is row 2);
for vector files the feature number, from 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from openpyxl import load_workbook
from pyproj import CRS

from governance.errors import LinpuError

MAX_BYTES = 512 * 1024 * 1024
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml"}


class InputFileError(LinpuError):
    """A file that cannot be read at all; the message names file, row and field."""

    def __init__(self, source: str, row: int, field: str, message: str):
        self.source, self.row, self.field = source, row, field
        super().__init__(f"{source} row {row} field {field}: {message}")


@dataclass(frozen=True)
class Problem:
    """One reason a row is refused."""

    row: int
    field: str
    message: str

    def text(self, source: str) -> str:
        return f"{source} row {self.row} field {self.field}: {self.message}"


@dataclass
class RawTable:
    """A file's rows as text, before any interpretation.

    ``frame`` holds every attribute as a stripped string ("" when empty),
    indexed by the row number users see. ``geometry`` (vector formats only) is
    aligned to it. ``problems`` are rows already broken at the reading stage
    (a CSV line with too few fields).
    """

    source: str
    format: str
    frame: pd.DataFrame
    geometry: gpd.GeoSeries | None = None
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=list)
    #: What the reader decided that the user should know (the sheet of a workbook it read).
    notes: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def check_user_name(name: str) -> str:
    """Refuse names that look like GDAL virtual paths or URLs; return the bare file name."""
    text = str(name)
    if text.lower().startswith("/vsi") or re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        raise InputFileError(Path(text).name or text, 1, "(file)",
                             "virtual paths and URLs are not accepted; give a local file")
    return Path(text).name or "upload"


def read_path(path: str | Path) -> RawTable:
    """Read a local file. A ``.shp`` is read with its sibling ``.dbf``/``.shx``/``.prj``."""
    check_user_name(str(path))
    path = Path(path)
    source = path.name
    if not path.is_file():
        raise InputFileError(source, 1, "(file)", f"no such file: {path}")
    if path.suffix.lower() == ".shp":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for sibling in sorted(path.parent.glob(path.stem + ".*")):
                if _shapefile_part(sibling.name):
                    archive.write(sibling, sibling.name)
        return read_bytes(buffer.getvalue(), source, format="shp")
    if path.stat().st_size > MAX_BYTES:
        raise InputFileError(source, 1, "(file)", f"larger than {MAX_BYTES // 2**20} MB")
    return read_bytes(path.read_bytes(), source)


def read_bytes(data: bytes, name: str, *, format: str | None = None) -> RawTable:
    """Read an uploaded file from memory; ``name`` gives the extension and the name in messages."""
    source = check_user_name(name)
    if len(data) > MAX_BYTES:
        raise InputFileError(source, 1, "(file)", f"larger than {MAX_BYTES // 2**20} MB")
    fmt = format or _detect(data, source)
    if not data:
        raise InputFileError(source, 1, "(header)", "the file is empty (0 bytes)")
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "geojson": _read_geojson,
              "gpkg": _read_gpkg, "shp": _read_zip_shapefile}[fmt]
    return reader(data, source)


def _shapefile_part(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(ext) for ext in SHAPEFILE_PARTS)


def _detect(data: bytes, source: str) -> str:
    ext = "".join(Path(source).suffixes[-1:]).lower()
    by_ext = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".geojson": "geojson",
              ".json": "geojson", ".gpkg": "gpkg", ".zip": "shp", ".shp": "shp"}
    if ext == ".xls":
        raise InputFileError(source, 1, "(file)", "old Excel .xls is not supported; save it as .xlsx")
    if ext in by_ext:
        fmt = by_ext[ext]
        # A zip named .shp makes no sense from bytes; the path reader zips siblings itself.
        return "shp" if fmt == "shp" else fmt
    if data.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if data.startswith(b"PK"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            names = []
        return "xlsx" if "xl/workbook.xml" in names else "shp"
    if data.lstrip()[:1] == b"{":
        return "geojson"
    if ext and ext not in (".", ""):
        raise InputFileError(source, 1, "(file)", f"unknown file type {ext}; use CSV, XLSX, "
                             "GeoJSON, GeoPackage or a zipped Shapefile")
    return "csv"


# --- text -----------------------------------------------------------------


def refuse_binary(head: bytes, source: str) -> None:
    """Refuse a file whose first bytes are UTF-16 or binary rather than text."""
    # UTF-16 without a byte-order mark, or binary, is full of NUL bytes; a stray NUL
    # or two in a text file is left to the row checks, which name its row and field.
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head.count(b"\x00") > max(2, len(head) // 50):
        raise InputFileError(source, 1, "(file)", "the file is UTF-16 or binary, not text; "
                             "save it as CSV UTF-8")


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GB18030 (GBK), as Chinese Excel saves.

    Returns the text and the encoding name. Anything else is refused with the
    row and column of the first undecodable byte.
    """
    refuse_binary(data[:4096], source)
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            offset = utf8_error.start
            row = data.count(b"\n", 0, offset) + 1
            line_start = data.rfind(b"\n", 0, offset) + 1
            header = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
            column = data[line_start:offset].count(b",")
            names = [h.strip() for h in header.split(",")]
            field_name = names[column] if column < len(names) else f"column {column + 1}"
            bad = data[offset:offset + 2].hex(" ").upper()
            raise InputFileError(
                source, row, field_name,
                f"bytes {bad} are neither UTF-8 nor GBK/GB18030 text; save the file as "
                "CSV UTF-8",
            ) from None


def _read_csv(data: bytes, source: str) -> RawTable:
    text, encoding = decode_text(data, source)
    if not text.strip():
        raise InputFileError(source, 1, "(header)", "the file has no header row (it is blank)")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    starts: list[int] = []
    start = 1
    try:
        for record in reader:
            if record or rows:  # blank lines before the header are skipped
                rows.append(record)
                starts.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        tail = text.split("\n")[start - 1:]
        partial = next(csv.reader(io.StringIO("\n".join(tail)), delimiter=delimiter), [])
        header = rows[0] if rows else []
        col = max(len(partial) - 1, 0)
        name = header[col].strip() if col < len(header) else f"column {col + 1}"
        raise InputFileError(source, start, name or f"column {col + 1}",
                             f"{exc}: a quote is not closed or the file is cut short") from None
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    _check_header(header, source)
    problems: list[Problem] = []
    width = len(header)
    body: list[list[str]] = []
    index: list[int] = []
    for record, row in zip(rows[1:], starts[1:], strict=True):
        if not "".join(record).strip():
            continue  # Excel leaves empty lines at the end
        if len(record) < width:
            problems.append(Problem(row, header[len(record)], f"the line has {len(record)} fields, "
                                    f"the header {width}: it is cut short"))
            record = record + [""] * (width - len(record))
        elif len(record) > width:
            problems.append(Problem(row, f"column {width + 1}", f"the line has {len(record)} "
                                    f"fields, the header {width}: an unquoted comma?"))
            record = record[:width]
        body.append([cell.strip() for cell in record])
        index.append(row)
    frame = pd.DataFrame(body, columns=header, index=pd.Index(index, name="row"), dtype=object)
    if frame.empty:
        raise InputFileError(source, 2, "(data)", "the file has a header but no data rows")
    return RawTable(source, "csv", frame, encoding=encoding, problems=problems)


#: Rows per chunk of a streamed file: large enough for vectorised checks to pay, small enough
#: that a million-row file is never in memory at once.
CHUNK_ROWS = 50_000
CSV_SUFFIXES = (".csv", ".txt", ".tsv")


def read_chunks(source: bytes | Path, name: str | None = None, *, rows: int = CHUNK_ROWS) -> Iterator[RawTable]:
    """The file's rows as tables of at most ``rows`` rows each, numbered as :func:`read_bytes` numbers them.

    A CSV is decoded and parsed as it streams (its encoding found first, in one pass that
    keeps nothing); the other formats are read whole, as their libraries read them, and
    handed out in slices.  Refusals are those of :func:`read_path` / :func:`read_bytes`.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        if not name:
            raise TypeError("reading bytes needs the file name (for its type and messages)")
        data, shown = bytes(source), check_user_name(name)
        if data and len(data) <= MAX_BYTES and _detect(data, shown) == "csv":
            yield from _stream_csv(io.BytesIO(data), shown, rows)
            return
        table = read_bytes(data, name)
    elif isinstance(source, Path):
        shown = check_user_name(str(source))
        if source.suffix.lower() in CSV_SUFFIXES and source.is_file() and 0 < source.stat().st_size <= MAX_BYTES:
            with source.open("rb") as handle:
                yield from _stream_csv(handle, source.name, rows)
            return
        table = read_path(source)
    else:
        raise TypeError("give the file as bytes or a pathlib.Path, not a string")
    for start in range(0, len(table.frame), rows):
        part = table.frame.index[start : start + rows]
        yield RawTable(table.source, table.format, table.frame.loc[part],
                       geometry=None if table.geometry is None else table.geometry.loc[part],
                       encoding=table.encoding, problems=[p for p in table.problems if p.row in set(part)],
                       notes=list(table.notes))


def _stream_encoding(data: BinaryIO, source: str) -> str:
    """UTF-8 (with or without BOM), else GB18030, checked over the whole file without keeping it."""
    refuse_binary(data.read(4096), source)
    for encoding in ("utf-8-sig", "gb18030"):
        data.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while block := data.read(1 << 22):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        data.seek(0)
        return encoding
    data.seek(0)
    decode_text(data.read(), source)  # raises, naming the row and column of the first bad byte
    raise AssertionError("decode_text accepted what neither decoder did")


def _stream_csv(data: BinaryIO, source: str, size: int) -> Iterator[RawTable]:
    """:func:`_read_csv` a chunk at a time (the same rows, numbers and problems)."""
    encoding = _stream_encoding(data, source)
    text = io.TextIOWrapper(data, encoding=encoding, newline="")
    first = text.readline()
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter, strict=True)
    chunk = _CsvChunk(source, "utf-8" if encoding == "utf-8-sig" else encoding)
    start, total = 1, 0
    try:
        for record in reader:
            if chunk.header is None:
                if record:  # blank lines before the header are skipped
                    chunk.set_header([h.strip().lstrip("\ufeff") for h in record])
            elif chunk.add(record, start) >= size:
                total += len(chunk.index)
                yield chunk.table()
            start = reader.line_num + 1
    except csv.Error:
        text.detach()
        data.seek(0)
        _read_csv(data.read(), source)  # raises the whole-file reader's message, naming the line
        raise
    text.detach()  # the caller owns the file
    if chunk.header is None:
        raise InputFileError(source, 1, "(header)", "the file has no header row (it is blank)")
    if chunk.index:
        total += len(chunk.index)
        yield chunk.table()
    if total == 0:
        raise InputFileError(source, 2, "(data)", "the file has a header but no data rows")


class _CsvChunk:
    """Rows of a CSV being gathered into the next table."""

    def __init__(self, source: str, encoding: str):
        self.source, self.encoding, self.header = source, encoding, None
        self.body: list[list[str]] = []
        self.index: list[int] = []
        self.problems: list[Problem] = []

    def set_header(self, header: list[str]) -> None:
        _check_header(header, self.source)
        self.header = header

    def add(self, record: list[str], row: int) -> int:
        if not "".join(record).strip():
            return len(self.index)  # Excel leaves empty lines at the end
        width = len(self.header)
        if len(record) < width:
            self.problems.append(Problem(row, self.header[len(record)], f"the line has {len(record)} fields, "
                                         f"the header {width}: it is cut short"))
            record = record + [""] * (width - len(record))
        elif len(record) > width:
            self.problems.append(Problem(row, f"column {width + 1}", f"the line has {len(record)} "
                                         f"fields, the header {width}: an unquoted comma?"))
            record = record[:width]
        self.body.append([cell.strip() for cell in record])
        self.index.append(row)
        return len(self.index)

    def table(self) -> RawTable:
        frame = pd.DataFrame(self.body, columns=self.header, index=pd.Index(self.index, name="row"), dtype=object)
        table = RawTable(self.source, "csv", frame, encoding=self.encoding, problems=self.problems)
        self.body, self.index, self.problems = [], [], []
        return table


def _check_header(header: list[str], source: str) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            raise InputFileError(source, 1, f"column {i + 1}", "the header cell is empty")
        if name.lower() in seen:
            raise InputFileError(source, 1, name, f"column name repeats column {seen[name.lower()] + 1}")
        seen[name.lower()] = i


# --- spreadsheets ---------------------------------------------------------


def _read_xlsx(data: bytes, source: str) -> RawTable:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for non-workbooks
        raise InputFileError(source, 1, "(file)", f"not an Excel .xlsx workbook ({type(exc).__name__})") from None
    # Every sheet is read: a register split over sheets, or a summary sheet before it, must not
    # pass as a file of its first sheet alone.
    sheets = {}
    for sheet in book.worksheets:
        cells = [["" if v is None else _cell_text(v) for v in values] for values in sheet.iter_rows(values_only=True)]
        if any(c.strip() for row in cells for c in row):
            sheets[sheet.title] = cells
    book.close()
    if len(sheets) > 1:
        named = ", ".join(f"'{name}'" for name in sheets)
        raise InputFileError(source, 1, "(file)", f"the workbook has {len(sheets)} sheets with data ({named}); "
                             "one file holds one table: keep it on one sheet (delete or empty the others) "
                             "or save the sheet as its own .xlsx or CSV")
    if not sheets:
        raise InputFileError(source, 1, "(header)", "the workbook is empty: no sheet holds any data")
    [(title, rows)] = sheets.items()
    while not any(c.strip() for c in rows[0]):
        rows.pop(0)
    header = [h.strip() for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    _check_header(header, source)
    body, index = [], []
    for i, record in enumerate(rows[1:], start=2):
        record = (record + [""] * len(header))[: len(header)]
        if any(cell.strip() for cell in record):
            body.append([cell.strip() for cell in record])
            index.append(i)
    frame = pd.DataFrame(body, columns=header, index=pd.Index(index, name="row"), dtype=object)
    if frame.empty:
        raise InputFileError(source, 2, "(data)", "the sheet has a header but no data rows")
    return RawTable(source, "xlsx", frame, notes=[f"read sheet '{title}' of the workbook"])


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# --- vector files ---------------------------------------------------------


def _vector_table(source: str, fmt: str, attributes: pd.DataFrame, geometry, crs) -> RawTable:
    index = pd.Index(np.arange(1, len(attributes) + 1), name="row")
    frame = attributes.reset_index(drop=True)
    frame = frame.astype(object).where(frame.notna(), "")
    frame = frame.map(lambda v: v.strip() if isinstance(v, str) else _cell_text(v))
    frame.index = index
    # Not ``frame.empty``: features without attributes are a frame of rows and no columns.
    if len(frame.index) == 0:
        raise InputFileError(source, 1, "(data)", "the file holds no features")
    series = gpd.GeoSeries(np.asarray(geometry, dtype=object), index=index, crs=crs)
    return RawTable(source, fmt, frame, geometry=series)


def _read_geojson(data: bytes, source: str) -> RawTable:
    try:
        text, _ = decode_text(data, source)
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(source, exc.lineno, "(json)",
                             f"not GeoJSON: invalid JSON at column {exc.colno}: {exc.msg}") from None
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = {"type": "FeatureCollection", "features": [document]}
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        found = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise InputFileError(source, 1, "type", f"not GeoJSON: expected a FeatureCollection, "
                             f"found {found!r}")
    crs = _geojson_crs(document, source)
    properties, geometries = [], []
    for number, feature in enumerate(document["features"], start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise InputFileError(source, number, "type", "not a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise InputFileError(source, number, "properties", "must be an object")
        properties.append(props)
        geometry = feature.get("geometry")
        if geometry is None:
            geometries.append(None)
            continue
        try:
            geometries.append(shapely.geometry.shape(geometry))
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise InputFileError(source, number, "geometry", f"not a valid GeoJSON geometry: {exc}") from None
    attributes = pd.DataFrame.from_records(properties) if properties else pd.DataFrame()
    if len(attributes) != len(geometries):
        attributes = attributes.reindex(range(len(geometries)))
    return _vector_table(source, "geojson", attributes, geometries, crs)


def _geojson_crs(document: dict, source: str):
    named = (document.get("crs") or {}).get("properties", {}).get("name")
    if not named:
        return "EPSG:4326"  # RFC 7946
    try:
        return CRS.from_user_input(named)
    except Exception:
        raise InputFileError(source, 1, "crs", f"unknown CRS {named!r}") from None


def _read_with_gdal(data: bytes, source: str, fmt: str) -> RawTable:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(io.BytesIO(data))
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        what = {"gpkg": "a GeoPackage", "shp": "a zipped Shapefile"}[fmt]
        raise InputFileError(source, 1, "(file)", f"not {what}: {str(exc).splitlines()[0]}") from None
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return _vector_table(source, fmt, attributes, frame.geometry.values, frame.crs)


def _read_gpkg(data: bytes, source: str) -> RawTable:
    if not data.startswith(b"SQLite format 3\x00"):
        raise InputFileError(source, 1, "(file)", "not a GeoPackage (no SQLite header)")
    return _read_with_gdal(data, source, "gpkg")


def _read_zip_shapefile(data: bytes, source: str) -> RawTable:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        raise InputFileError(source, 1, "(file)", "not a zip archive of a Shapefile") from None
    files = [n for n in names if not n.endswith("/")]
    strange = [n for n in files if not _shapefile_part(n)]
    shps = [n for n in files if n.lower().endswith(".shp")]
    if strange:
        raise InputFileError(source, 1, "(file)", f"the zip holds {strange[0]!r}; only the parts "
                             "of one Shapefile (.shp .shx .dbf .prj .cpg) are accepted")
    if len(shps) != 1:
        raise InputFileError(source, 1, "(file)", f"the zip holds {len(shps)} .shp files; give exactly one")
    return _read_with_gdal(data, source, "shp")
