"""Result rows to (Geo)DataFrames, the one conversion every read shares.

pandas probes each SQLAlchemy ``Row`` for namedtuple fields, and every
failed attribute lookup on a Row is slow (10,000 rows cost ~50 ms that way),
so rows become plain tuples first; geometries read as ``ewkb(...)`` bytes are
decoded in one vectorised call.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from governance.spatial import from_ewkb


def frame_of(rows, columns: list[str]) -> pd.DataFrame:
    """A DataFrame from result rows, as plain tuples."""
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def geo_frame_of(rows, columns: list[str]) -> gpd.GeoDataFrame:
    """A WGS84 GeoDataFrame from rows whose last value is ``ewkb(...)`` bytes."""
    frame = frame_of(rows, columns=[*columns, "geometry"])
    frame["geometry"] = from_ewkb(frame["geometry"].tolist())
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)
