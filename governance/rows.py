"""Result rows to (Geo)DataFrames, the one conversion every read shares.

pandas probes each SQLAlchemy ``Row`` for namedtuple fields, and every
failed attribute lookup on a Row is slow (10,000 rows cost ~50 ms that way),
so rows become plain tuples first; geometries read as ``ewkb(...)`` bytes are
decoded in one vectorised call.  A bulk read (a city's 500,000 cases) also
selects its times and codes :func:`raw`, without SQLAlchemy's conversion of
each value, and converts each column whole (:func:`utc_times`,
:func:`code_texts`): half the read's time.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import type_coerce
from sqlalchemy.types import NullType

from governance.spatial import from_ewkb


def raw(column):
    """``column`` as the database driver gives it: no per-value conversion by its type
    (a time is text on SQLite, an aware datetime on PostgreSQL; a code is its text)."""
    return type_coerce(column, NullType())


def utc_times(values) -> pd.Series:
    """A :func:`raw` time column as aware UTC times (SQLite's naive text is UTC), missing as NaT."""
    return pd.to_datetime(pd.Series(values), utc=True, format="ISO8601").astype("datetime64[us, UTC]")


def code_texts(values) -> pd.Series:
    """A column of codes (enum members or their text) as plain text, missing as None, not "nan"."""
    codes, uniques = pd.factorize(pd.Series(values))
    labels = np.array([str(u) for u in uniques] + [None], dtype=object)
    return pd.Series(labels[codes], index=getattr(values, "index", None))


def frame_of(rows, columns: list[str]) -> pd.DataFrame:
    """A DataFrame from result rows, as plain tuples."""
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def geo_frame_of(rows, columns: list[str]) -> gpd.GeoDataFrame:
    """A WGS84 GeoDataFrame from rows whose last value is ``ewkb(...)`` bytes."""
    frame = frame_of(rows, columns=[*columns, "geometry"])
    frame["geometry"] = from_ewkb(frame["geometry"].tolist())
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)
