"""Loading many rows into one table at the speed of the database underneath.

SQLAlchemy's Core ``insert`` runs every value of every row through its type's
bind processing in Python (a million cases: most of a minute).  The batch
paths of ``governance.filing`` and the shop register instead convert whole
columns once, vectorised, into what the driver stores, and hand the rows to
the driver directly, on the session's own connection and so in its
transaction:

- **PostgreSQL**: ``COPY table (columns) FROM STDIN`` through psycopg 3's
  ``Cursor.copy`` (text format; geometries as hex EWKB, which PostGIS reads),
  and ``ANALYZE`` of the loaded tables once the load is done
  (:func:`analyze`), so the planner knows the new sizes;
- **SQLite**: one prepared ``INSERT`` per table through the ``sqlite3``
  cursor's ``executemany``, in the transaction already open.

Values must already be in stored form: :func:`stored_times`,
:func:`stored_points`, plain ``str`` for codes (a ``StrEnum`` member is turned
into its value here: psycopg would dump an enum by its *name*), ``int`` or
``None``.  Nothing here checks the rows: callers validate first, as the
ORM's checks (the NUL refusal of ``governance.db``) are bypassed too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import Enum

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from governance.spatial import WGS84


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def stored_times(values: pd.Series, postgres: bool) -> np.ndarray:
    """UTC instants as the column stores them: SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff`` text
    (as SQLAlchemy writes it), ISO text with ``+00`` for PostgreSQL; NaT as None."""
    stamps = pd.to_datetime(pd.Series(values).reset_index(drop=True), utc=True)
    shown = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00" if postgres else "%Y-%m-%d %H:%M:%S.%f")
    out = shown.to_numpy(dtype=object)
    out[stamps.isna().to_numpy()] = None
    return out


def stored_points(lon: np.ndarray, lat: np.ndarray, postgres: bool) -> np.ndarray:
    """WGS84 points as EWKB (SQLite's column) or hex EWKB (read by PostGIS from COPY's text)."""
    points = shapely.set_srid(shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)), WGS84)
    return shapely.to_wkb(points, include_srid=True, hex=postgres)


def stored_json(value) -> str:
    """A JSON column's text (the same serialisation as SQLAlchemy's default)."""
    return json.dumps(value)


def plain(values: Iterable) -> list:
    """Codes as plain text: enum members by value, numpy scalars as Python ones."""
    out = []
    for value in values:
        if isinstance(value, Enum):
            out.append(value.value)
        elif isinstance(value, np.generic):
            out.append(value.item())
        else:
            out.append(value)
    return out


def next_ids(session: Session, table: Table, n: int) -> list[int]:
    """``n`` ids for new rows of ``table``, as its inserts would draw them.

    PostgreSQL: from the column's sequence (safe beside other writers).  SQLite
    (no sequence; ``INTEGER PRIMARY KEY`` without AUTOINCREMENT gives max + 1):
    after the largest stored id; the load that uses them takes SQLite's one
    write lock, and a writer slipping in between makes the load fail (a key
    clash or a busy database), never store a wrong link.
    """
    if n == 0:
        return []
    if is_postgres(session):
        return session.scalars(
            text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
            {"n": n},
        ).all()
    last = session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table.name}"))
    return list(range(int(last) + 1, int(last) + 1 + n))


def load(session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Write ``rows`` (tuples in ``columns`` order, stored form) into ``table`` in the session's transaction."""
    if not rows:
        return
    names = ", ".join(columns)
    driver = session.connection().connection.driver_connection
    if is_postgres(session):
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cursor = driver.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def analyze(session: Session, tables: Iterable[Table]) -> None:
    """PostgreSQL: refresh the planner's statistics of freshly loaded tables (SQLite: nothing)."""
    if is_postgres(session):
        for table in tables:
            session.execute(text(f"ANALYZE {table.name}"))


__all__ = ["analyze", "is_postgres", "load", "next_ids", "plain", "stored_json", "stored_points", "stored_times"]
