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

from datetime import UTC, datetime

import shapely
from sqlalchemy import DateTime, LargeBinary, func
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
