"""WGS84 ↔ GCJ-02 ↔ BD-09: the offset coordinates of Chinese map apps.

Chinese law requires published maps to use GCJ-02 ("Mars coordinates"), a
non-linear, deliberately obfuscated offset of WGS84 of a few hundred metres;
AMap (高德) and Tencent maps give GCJ-02, Baidu adds its own BD-09 offset on
top. Points picked on those apps must be converted before they meet the
WGS84 data of Linpu, or they land in the wrong grid.

The forward formulas are the widely published reconstruction of GCJ-02 (the
Krasovsky-ellipsoid form) and Baidu's BD-09. Their exact inverses are not
published, so the inverses here iterate the forward transform (a fixed-point
iteration that converges to a few millimetres in a handful of steps) instead
of using the common one-step approximation, which is off by up to ~2 m.

GCJ-02 applies only inside China: points outside the rough national bounding
box are returned unchanged, as the map apps do. BD-09 is applied everywhere
(Baidu itself only uses it in China, but its formula has no bounds).

Everything is vectorised over numpy arrays; the GeoDataFrame wrapper is
:func:`to_wgs84`.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

System = Literal["wgs84", "gcj02", "bd09"]
SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# The bounding box inside which the apps apply the GCJ-02 offset.
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

_TOLERANCE_DEG = 1e-10  # ~0.01 mm: iterate until the forward transform hits the target
_MAX_ITERATIONS = 30


def in_china(lon, lat) -> np.ndarray:
    """True where a point lies in the box where GCJ-02 applies.

    Examples
    --------
    >>> in_china([118.9, 2.35], [25.12, 48.86]).tolist()
    [True, False]
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon > CHINA_LON[0]) & (lon < CHINA_LON[1]) & (lat > CHINA_LAT[0]) & (lat < CHINA_LAT[1])


def _delta_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _delta_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array(lon, dtype=float, copy=True)
    lat = np.array(lat, dtype=float, copy=True)
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in shape: {lon.shape} vs {lat.shape}")
    return lon, lat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Offset WGS84 longitudes/latitudes to GCJ-02 (unchanged outside China).

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02([118.9], [25.12])
    >>> bool(300 < abs(lon[0] - 118.9) * 1e5 + abs(lat[0] - 25.12) * 1e5 < 1000)
    True
    """
    lon, lat = _as_arrays(lon, lat)
    inside = in_china(lon, lat)
    x, y = lon[inside] - 105.0, lat[inside] - 35.0
    dlat, dlon = _delta_lat(x, y), _delta_lon(x, y)
    radlat = lat[inside] / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    lon[inside] += dlon
    lat[inside] += dlat
    return lon, lat


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's BD-09 offset on top of GCJ-02.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09([118.9], [25.12])
    >>> round(float(lon[0] - 118.9), 4), round(float(lat[0] - 25.12), 4)
    (0.0065, 0.0062)
    """
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(forward, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x) = target by fixed-point iteration x ← x − (forward(x) − target).

    The offsets vary slowly (their derivatives are ~1e-5 per degree), so each
    step shrinks the error by about five orders of magnitude.
    """
    target_lon, target_lat = _as_arrays(lon, lat)
    guess_lon, guess_lat = target_lon.copy(), target_lat.copy()
    for _ in range(_MAX_ITERATIONS):
        got_lon, got_lat = forward(guess_lon, guess_lat)
        err_lon, err_lat = got_lon - target_lon, got_lat - target_lat
        guess_lon -= err_lon
        guess_lat -= err_lat
        if not (
            np.nanmax(np.abs(err_lon), initial=0) > _TOLERANCE_DEG
            or np.nanmax(np.abs(err_lat), initial=0) > _TOLERANCE_DEG
        ):
            break
    return guess_lon, guess_lat


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Exact (iterative) inverse of :func:`wgs84_to_gcj02`.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02([118.9], [25.12]))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (118.9, 25.12)
    """
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Exact (iterative) inverse of :func:`gcj02_to_bd09`.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09([118.9], [25.12]))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (118.9, 25.12)
    """
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 to Baidu BD-09 (through GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09([118.9], [25.12])
    >>> round(float(lon[0] - 118.9), 3), round(float(lat[0] - 25.12), 3)
    (0.011, 0.003)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Baidu BD-09 to WGS84 (through GCJ-02), both steps inverted exactly.

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09([118.9], [25.12]))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (118.9, 25.12)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERT = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def convert(lon, lat, *, source: System, target: System) -> tuple[np.ndarray, np.ndarray]:
    """Convert longitude/latitude arrays between ``wgs84``, ``gcj02`` and ``bd09``.

    Non-finite values pass through as they are.

    Examples
    --------
    >>> lon, lat = convert([118.9], [25.12], source="wgs84", target="wgs84")
    >>> lon.tolist(), lat.tolist()
    ([118.9], [25.12])
    """
    for name in (source, target):
        if name not in SYSTEMS:
            raise ValueError(f"unknown coordinate system {name!r}; use one of {', '.join(SYSTEMS)}")
    if source == target:
        return _as_arrays(lon, lat)
    return _CONVERT[(source, target)](lon, lat)


def to_wgs84(
    points: gpd.GeoDataFrame | gpd.GeoSeries, *, source: System
) -> gpd.GeoDataFrame | gpd.GeoSeries:
    """Return a copy of ``points`` with offset (GCJ-02 / BD-09) coordinates made WGS84.

    ``points`` holds longitude/latitude points in EPSG:4326 whose numbers are
    really in ``source`` (a map app's system); the result holds true WGS84
    points, still labelled EPSG:4326. Only Point geometries are supported.

    Examples
    --------
    >>> import shapely
    >>> app = gpd.GeoSeries([shapely.Point(*[float(v[0]) for v in wgs84_to_gcj02([118.9], [25.12])])], crs=4326)
    >>> p = to_wgs84(app, source="gcj02").iloc[0]
    >>> round(p.x, 7), round(p.y, 7)
    (118.9, 25.12)
    """
    if points.crs is None or not points.crs.equals("EPSG:4326"):
        raise ValueError("to_wgs84 needs longitude/latitude points labelled EPSG:4326")
    geometry = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    kinds = set(geometry.geom_type.dropna())
    if kinds - {"Point"}:
        raise ValueError(f"to_wgs84 converts points only, got {sorted(kinds)}")
    present = geometry[geometry.notna() & ~geometry.is_empty]
    xy = shapely.get_coordinates(present.values)
    lon, lat = convert(xy[:, 0], xy[:, 1], source=source, target="wgs84")
    moved = gpd.GeoSeries.from_xy(lon, lat, crs=4326, index=present.index)
    result = points.copy()
    if isinstance(result, gpd.GeoDataFrame):
        result.loc[moved.index, result.geometry.name] = moved
        return result
    result.loc[moved.index] = moved
    return result


def to_gcj02(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy of ``frame`` whose geometries (of any kind) are offset from WGS84 to GCJ-02.

    For AMap-based tools, which expect GCJ-02 numbers. ``frame`` may be in any
    CRS; it is brought to EPSG:4326 first. The result is still labelled
    EPSG:4326, since GCJ-02 has no EPSG code: whoever writes it must say that
    its numbers are GCJ-02. Every vertex of every geometry goes through
    :func:`wgs84_to_gcj02` in one vectorised call.

    Examples
    --------
    >>> import shapely
    >>> frame = gpd.GeoDataFrame({"code": ["G001"]}, geometry=[shapely.Point(118.9, 25.12)], crs=4326)
    >>> moved = to_gcj02(frame)
    >>> lon, lat = wgs84_to_gcj02([118.9], [25.12])
    >>> moved.geometry.iloc[0].equals(shapely.Point(lon[0], lat[0])), frame.geometry.iloc[0].x
    (True, 118.9)
    """
    if frame.crs is None:
        raise ValueError("to_gcj02 needs a GeoDataFrame with a CRS")
    result = frame.to_crs(4326) if not frame.crs.equals("EPSG:4326") else frame.copy()

    def offset(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))

    moved = shapely.transform(result.geometry.to_numpy(), offset)
    result[result.geometry.name] = gpd.GeoSeries(moved, index=result.index, crs=4326)
    return result
