"""Distances in metres from one point to many, measured in a metric CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.metric import metric_crs


def distances_m(points: gpd.GeoDataFrame | gpd.GeoSeries, origin: shapely.Point, *, origin_crs,
                crs: CRS | str | int | None = None) -> pd.Series:
    """Distance in metres from ``origin`` to each of ``points``.

    Parameters
    ----------
    points
        Point geometries with a CRS; not modified.
    origin
        The point measured from, in ``origin_crs``.
    origin_crs
        CRS of ``origin`` (keyword-only, explicit: ``4326`` for lon/lat).
    crs
        Metric CRS to measure in; default :func:`geo.metric.metric_crs` of the points and the origin.

    Returns
    -------
    pandas.Series
        Float metres, on the index of ``points``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pts = gpd.GeoSeries([shapely.Point(118.6, 24.9), shapely.Point(118.6005, 24.9)], crs=4326)
    >>> distances_m(pts, shapely.Point(118.6, 24.9), origin_crs=4326).round().tolist()
    [0.0, 51.0]
    """
    geometry = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geometry.crs is None:
        raise ValueError("points have no CRS; set one (EPSG:4326 for lon/lat)")
    here = gpd.GeoSeries([origin], crs=origin_crs)
    if len(geometry) == 0:
        return pd.Series(np.zeros(0), index=geometry.index, dtype=float)
    target = CRS.from_user_input(crs) if crs is not None else metric_crs(pd.concat([geometry.to_crs(here.crs), here]))
    measured = geometry.to_crs(target).distance(here.to_crs(target).iloc[0])
    return pd.Series(np.asarray(measured, dtype=float), index=geometry.index)
