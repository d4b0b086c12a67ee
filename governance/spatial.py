"""Geometry and time column types that behave the same on SQLite and PostGIS.

On PostgreSQL a geometry column is a real PostGIS ``geometry(POINT,4326)``,
so containment and GiST indexes run in the database.  This Python's SQLite
cannot load SpatiaLite, so there the column holds EWKB: WKB with its SRID.
Both travel as EWKB over the wire, so one shapely code path reads and writes
both, and the ORM attribute is always a shapely geometry.

The PostGIS type is our own rather than GeoAlchemy2's ``Geometry`` because
GeoAlchemy2's table-creation event hooks assume ``metadata.create_all`` and
fail under Alembic's ``op.create_table`` (KeyError ``_saved_columns``); the
schema here is created by migrations only.  GeoAlchemy2's typed functions
are still what queries use for ``ST_*`` on PostGIS.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
from sqlalchemy import BigInteger, DateTime, Float, LargeBinary, String, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, UserDefinedType

WGS84 = 4326


class PostGISGeometry(UserDefinedType):
    """``geometry(TYPE,SRID)`` exchanged as EWKB bytes."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = WGS84):
        self.geometry_type = geometry_type
        self.srid = srid

    def get_col_spec(self, **_kw) -> str:
        return f"geometry({self.geometry_type},{self.srid})"

    def bind_expression(self, bindvalue):
        return func.ST_GeomFromEWKB(bindvalue, type_=self)

    def column_expression(self, column):
        # Typed as the column (the decorator) so its result processing applies.
        return func.ST_AsEWKB(column, type_=column.type)


class Geometry(TypeDecorator):
    """A shapely geometry stored as PostGIS geometry or as EWKB bytes."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = WGS84):
        super().__init__()
        self.geometry_type = geometry_type
        self.srid = srid

    def load_dialect_impl(self, dialect):
        if dialect is not None and dialect.name == "postgresql":
            return PostGISGeometry(self.geometry_type, self.srid)
        return LargeBinary() if dialect is None else dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return shapely.to_wkb(shapely.set_srid(value, self.srid), include_srid=True)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return shapely.from_wkb(bytes(value))


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC; SQLite would otherwise drop the offset."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def load_dialect_impl(self, dialect):
        if dialect is not None and dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return DateTime() if dialect is None else dialect.type_descriptor(DateTime())


class ewkb(FunctionElement):
    """A geometry column as raw EWKB bytes, left undecoded by the column type.

    Reading many geometries through ``Geometry`` decodes them one row at a
    time; select ``ewkb(Model.geometry)`` instead and decode the whole column
    at once with ``from_ewkb``.
    """

    type = LargeBinary()
    name = "ewkb"
    inherit_cache = True


@compiles(ewkb)
def _ewkb_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)  # SQLite stores the EWKB itself


@compiles(ewkb, "postgresql")
def _ewkb_postgresql(element, compiler, **kw):
    return f"ST_AsEWKB({compiler.process(element.clauses, **kw)})"


def from_ewkb(values: Sequence) -> np.ndarray:
    """Shapely geometries from a sequence of EWKB bytes (None stays None), in one vectorised call."""
    array = np.empty(len(values), dtype=object)
    array[:] = [None if v is None else bytes(v) for v in values]
    return shapely.from_wkb(array)


class utc_day(FunctionElement):
    """The UTC calendar day of a timestamp as ``YYYY-MM-DD`` text, the same on both databases."""

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_default(element, compiler, **kw):
    # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS.ffffff': the day is its first ten
    # characters (cheaper than date(), which parses every value).
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw):
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class utc_text(FunctionElement):
    """A timestamp as ISO text in UTC, parsed by pandas in one vectorised call.

    Converting many timestamps one by one in the driver and the column type
    costs more than the query that reads them.
    """

    type = String()
    name = "utc_text"
    inherit_cache = True


@compiles(utc_text)
def _utc_text_default(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(utc_text, "postgresql")
def _utc_text_postgresql(element, compiler, **kw):
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"


class micros_between(FunctionElement):
    """Whole microseconds from the first timestamp to the second, exact on both databases.

    SQLite keeps a timestamp as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC: whole
    seconds from ``strftime('%s')`` of the first 19 characters plus the six
    digits of the fraction.
    """

    type = BigInteger()
    name = "micros_between"
    inherit_cache = True


def _sqlite_micros(expression: str) -> str:
    # Whole seconds from the text without its fraction (strftime would round the
    # fraction to milliseconds first, which can carry into the next second).
    return (f"(CAST(strftime('%s', substr({expression}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({expression}, 21, 6) AS INTEGER))")


@compiles(micros_between)
def _micros_between_default(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"({_sqlite_micros(end)} - {_sqlite_micros(start)})"


@compiles(micros_between, "postgresql")
def _micros_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end}) - ({start})) * 1000000 AS BIGINT)"


class median_micros_between(FunctionElement):
    """Per group, the median of whole microseconds from ``start`` to ``end``, as a float.

    Exact: the middle duration, or the mean of the middle two; rows whose
    ``end`` is NULL are skipped (None when every one is).  On PostgreSQL
    ``percentile_cont(0.5)`` over :class:`micros_between`; on SQLite an
    aggregate written in Python (:class:`SQLiteMedianMicrosBetween`,
    registered on every connection by ``governance.db``), since SQLite has no
    median, and parsing the stored text in C there is several times cheaper
    than ``strftime`` on every row.  Either way it is one column of a grouped
    query, read in the same pass as the counts beside it.
    """

    type = Float()
    name = "median_micros_between"
    inherit_cache = True


@compiles(median_micros_between)
def _median_micros_between_default(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"linpu_median_micros_between({start}, {end})"


@compiles(median_micros_between, "postgresql")
def _median_micros_between_postgresql(element, compiler, **kw):
    start, end = element.clauses
    micros = compiler.process(micros_between(start, end), **kw)
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {micros})"


class SQLiteMedianMicrosBetween:
    """SQLite aggregate behind :class:`median_micros_between`.

    SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which
    ``datetime.fromisoformat`` reads exactly.
    """

    _MICROSECOND = timedelta(microseconds=1)

    def __init__(self) -> None:
        self.micros: list[int] = []

    def step(self, start, end) -> None:
        if start is not None and end is not None:
            self.micros.append(
                (datetime.fromisoformat(end) - datetime.fromisoformat(start)) // self._MICROSECOND
            )

    def finalize(self) -> float | None:
        if not self.micros:
            return None
        self.micros.sort()
        half, odd = divmod(len(self.micros), 2)
        if odd:
            return float(self.micros[half])
        return (self.micros[half - 1] + self.micros[half]) / 2


def register_sqlite_functions(dbapi_connection) -> None:
    """Add the functions the queries use that SQLite lacks to one connection."""
    dbapi_connection.create_aggregate("linpu_median_micros_between", 2, SQLiteMedianMicrosBetween)
