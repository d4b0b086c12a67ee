"""Frontage zones (门前三包): the strip in front of each shop that its keeper looks after.

An office that has drawn its frontage zones imports them; for the shops it
has not, a zone is generated from the shop's point and its nearest street: a
rectangle ``width_m`` wide along the street, reaching ``depth_m`` from the
shop's point towards the street (never past the street's centre line).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.metric import metric_crs


def frontage_zones(shops: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *, depth_m: float = 5.0,
                   width_m: float = 8.0) -> gpd.GeoDataFrame:
    """One frontage strip per shop, on the shop's side facing its nearest street.

    Parameters
    ----------
    shops : GeoDataFrame
        Shop points (their entrance, as registers place them) with any columns.
    streets : GeoDataFrame
        Street centre lines, in any CRS (brought to the shops' CRS).
    depth_m : float
        How far the strip reaches from the shop towards the street, in metres;
        cut short where the street's centre line is nearer.
    width_m : float
        Length of the strip along the street, in metres, centred on the shop.

    Returns
    -------
    GeoDataFrame
        The shops' columns with polygon geometries, in the shops' CRS and
        order. A shop with no street, or standing on a centre line, gets a
        ``width_m`` square centred on its point.

    Examples
    --------
    >>> shops = gpd.GeoDataFrame({"shop_code": ["S1"]}, geometry=[shapely.Point(0, 10)], crs=4549)
    >>> streets = gpd.GeoDataFrame(geometry=[shapely.LineString([(-50, 0), (50, 0)])], crs=4549)
    >>> zone = frontage_zones(shops, streets, depth_m=4, width_m=6).geometry.iloc[0]
    >>> [round(v, 6) for v in zone.bounds]
    [-3.0, 6.0, 3.0, 10.0]
    """
    if depth_m <= 0 or width_m <= 0:
        raise ValueError(f"depth_m and width_m must be positive, got {depth_m} and {width_m}")
    if shops.crs is None:
        raise ValueError("shops have no CRS; set one (EPSG:4326 for longitude/latitude)")
    crs = metric_crs(shops) if shops.crs.is_geographic else shops.crs
    points = shops.geometry.to_crs(crs)
    xy = shapely.get_coordinates(np.asarray(points.values, dtype=object))
    lines = streets.geometry.to_crs(crs) if len(streets) else gpd.GeoSeries([], crs=crs)
    polygons = [_strip(x, y, lines, depth_m, width_m) for x, y in xy]
    out = shops.copy()
    out[shops.geometry.name] = gpd.GeoSeries(polygons, index=shops.index, crs=crs).to_crs(shops.crs).values
    return out


def _strip(x: float, y: float, lines: gpd.GeoSeries, depth_m: float, width_m: float) -> shapely.Polygon:
    half = width_m / 2
    point = shapely.Point(x, y)
    if lines.empty:
        return shapely.box(x - half, y - half, x + half, y + half)
    distances = lines.distance(point).to_numpy()
    nearest = lines.iloc[int(np.argmin(distances))]
    foot = shapely.line_interpolate_point(nearest, shapely.line_locate_point(nearest, point))
    towards = np.array([foot.x - x, foot.y - y])
    reach = float(np.hypot(*towards))
    if reach < 1e-6:
        return shapely.box(x - half, y - half, x + half, y + half)
    normal = towards / reach
    along = np.array([-normal[1], normal[0]])
    depth = min(depth_m, reach)
    origin = np.array([x, y])
    corners = [origin - along * half, origin + along * half,
               origin + along * half + normal * depth, origin - along * half + normal * depth]
    return shapely.Polygon(corners).normalize()
