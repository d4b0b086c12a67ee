"""Configurable basemap tiles for the folium maps (``LINPU_TILES``).

``none`` (default) draws no tiles: the district's own streets and boundary
are the basemap, and the map works offline.  AMap tiles are drawn in GCJ-02,
so with ``amap`` every layer is shifted from WGS84 to GCJ-02 for display
(``to_display``) and map clicks are shifted back (``from_display``); points
then land on the right street.  Tianditu tiles are WGS84 (CGCS2000) and need
a key (``LINPU_TILE_KEY``).
"""

from __future__ import annotations

import geopandas as gpd
import shapely

from geo.coords import convert

OSM = ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors", None)
AMAP = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
    "© 高德地图 AutoNavi",
    "1234",
)
TIANDITU = (
    "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
    "© 天地图 Tianditu",
    "01234567",
)


def tile_spec(provider: str, key: str | None = None) -> dict | None:
    """folium TileLayer arguments for a provider, or None for no tiles.

    Tianditu without a key falls back to no tiles rather than a page of
    broken images.
    """
    if provider == "osm":
        url, attribution, subdomains = OSM
    elif provider == "amap":
        url, attribution, subdomains = AMAP
    elif provider == "tianditu" and key:
        url, attribution, subdomains = TIANDITU
        url = url.replace("{key}", key)
    else:
        return None
    spec = {"tiles": url, "attr": attribution, "max_zoom": 19, "overlay": False, "control": False}
    if subdomains:
        spec["subdomains"] = subdomains
    return spec


def needs_gcj02(provider: str) -> bool:
    return provider == "amap"


def to_display(frame: gpd.GeoDataFrame, provider: str) -> gpd.GeoDataFrame:
    """A copy shifted to the tiles' coordinate system (GCJ-02 for AMap)."""
    if not needs_gcj02(provider) or frame.empty:
        return frame
    out = frame.copy()

    def shift(coords):
        lon, lat = convert(coords[:, 0], coords[:, 1], source="wgs84", target="gcj02")
        coords = coords.copy()
        coords[:, 0], coords[:, 1] = lon, lat
        return coords

    out[out.geometry.name] = shapely.transform(out.geometry.values, shift)
    return out


def from_display(lon: float, lat: float, provider: str) -> tuple[float, float]:
    """A clicked point back in WGS84."""
    if not needs_gcj02(provider):
        return lon, lat
    x, y = convert([lon], [lat], source="gcj02", target="wgs84")
    return float(x[0]), float(y[0])
