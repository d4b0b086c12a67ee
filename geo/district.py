"""A district's own map: OSM street classes, offset coordinates, clipping, overlap.

Pure functions over GeoDataFrames; the reading of files and the storage
live in ``pipelines.district`` and ``governance.district``.

OpenStreetMap's ``highway`` tag is mapped to the three street classes that
gridding knows (``main`` roads split grids, ``street`` and ``lane`` bind
shops together):

=========================================================  ==========
highway                                                     class
=========================================================  ==========
motorway, trunk, primary, secondary (and their ``_link``)  main
tertiary (and ``tertiary_link``), residential, unclassified street
service, footway, pedestrian, living_street                 lane
anything else (cycleway, steps, track, path, …)             dropped
=========================================================  ==========
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.coords import convert
from geo.metric import metric_crs

_MAIN = ("motorway", "trunk", "primary", "secondary")
#: OSM ``highway`` value -> street class; values not listed are not streets of the map.
HIGHWAY_CLASSES: dict[str, str] = {
    **{value: "main" for value in _MAIN},
    **{f"{value}_link": "main" for value in _MAIN},
    "tertiary": "street",
    "tertiary_link": "street",
    "residential": "street",
    "unclassified": "street",
    "service": "lane",
    "footway": "lane",
    "pedestrian": "lane",
    "living_street": "lane",
}


def class_highways(lines: gpd.GeoDataFrame, *, column: str = "highway") -> gpd.GeoDataFrame:
    """Keep the lines whose ``highway`` value is a street, with its ``class``.

    Parameters
    ----------
    lines : GeoDataFrame
        OSM lines with a ``highway`` column (``None`` for non-roads).
    column : str
        Name of the highway column.

    Returns
    -------
    GeoDataFrame
        A copy of the street rows only, with a ``class`` column (main, street,
        lane), in the input's order and CRS.

    Examples
    --------
    >>> import shapely
    >>> lines = gpd.GeoDataFrame({"highway": ["primary_link", "steps", "footway"]},
    ...                          geometry=[shapely.LineString([(0, 0), (1, 1)])] * 3, crs=4326)
    >>> class_highways(lines)["class"].tolist()
    ['main', 'lane']
    """
    classes = lines[column].map(lambda value: HIGHWAY_CLASSES.get(str(value).strip().lower()))
    kept = lines[classes.notna()].copy()
    kept["class"] = classes[classes.notna()].to_numpy()
    return kept


def unshift(geometry: gpd.GeoSeries, *, source: str) -> gpd.GeoSeries:
    """Any geometries whose longitude/latitude are GCJ-02 or BD-09, made WGS84.

    Every vertex is converted (``geo.coords.convert``, the iterative inverse),
    so lines and polygons keep their shape; the result is labelled EPSG:4326.

    Examples
    --------
    >>> from geo.coords import wgs84_to_gcj02
    >>> x, y = wgs84_to_gcj02([118.6, 118.7], [24.9, 24.9])
    >>> line = gpd.GeoSeries([shapely.LineString(zip(x, y))], crs=4326)
    >>> [round(v, 7) for v in unshift(line, source="gcj02").iloc[0].coords[1]]
    [118.7, 24.9]
    """
    if source == "wgs84":
        return geometry.copy()

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        lon, lat = convert(xy[:, 0], xy[:, 1], source=source, target="wgs84")
        return np.column_stack([lon, lat])

    moved = shapely.transform(np.asarray(geometry.values, dtype=object), to_wgs84)
    return gpd.GeoSeries(moved, index=geometry.index, crs=4326)


def clip_streets(streets: gpd.GeoDataFrame, boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Streets cut to the district ``boundary`` (same CRS), as single line strings.

    Parts of a street outside the boundary are removed; a street that leaves
    and re-enters gives several rows; rows left with no line are dropped.

    Examples
    --------
    >>> box = shapely.box(0, 0, 10, 10)
    >>> streets = gpd.GeoDataFrame({"class": ["main", "lane"]}, geometry=[
    ...     shapely.LineString([(-5, 5), (15, 5)]), shapely.LineString([(20, 0), (30, 0)])])
    >>> clipped = clip_streets(streets, box)
    >>> clipped["class"].tolist(), clipped.geometry.iloc[0].length
    (['main'], 10.0)
    """
    cut = streets.copy()
    cut[cut.geometry.name] = shapely.intersection(np.asarray(streets.geometry.values, dtype=object), boundary)
    lines = cut.explode(index_parts=False)
    keep = (lines.geometry.geom_type == "LineString") & ~lines.geometry.is_empty
    return lines[keep].reset_index(drop=True)


def overlap_share(new: shapely.Geometry, stored: shapely.Geometry) -> float:
    """Share of the ``new`` polygon's area (lon/lat) that lies in the ``stored`` one.

    Measured in the metric CRS of the two; 0.0 when they only touch or lie apart.

    Examples
    --------
    >>> share = overlap_share(shapely.box(118.60, 24.90, 118.62, 24.92), shapely.box(118.61, 24.90, 118.63, 24.92))
    >>> round(share, 2)
    0.5
    """
    both = gpd.GeoSeries([new, stored], crs=4326)
    metric = both.to_crs(metric_crs(both))
    area = metric.iloc[0].area
    if area <= 0:
        return 0.0
    return float(metric.iloc[0].intersection(metric.iloc[1]).area / area)
