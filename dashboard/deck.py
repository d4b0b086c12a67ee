"""The supervisor's district map in pydeck (deck.gl bundled with Streamlit, no basemap).

Size matters at city scale (10,000 grids, 1,000,000 cases), since every
rerun ships the layers to the browser as JSON:

- grid polygons are simplified (1 m) and rounded to 6 decimals (0.1 m);
  beyond ``POLYGON_LIMIT`` grids only grid points are sent, coloured the
  same way, until the filters narrow the set;
- the warning density is a HexagonLayer over grid points weighted by their
  open warnings (aggregated per grid, not one point per case);
- case points are capped at ``CASE_POINT_LIMIT`` (overdue and newest first).

Every user-typed string that reaches a tooltip is HTML-escaped here: deck.gl
interpolates tooltip HTML without escaping.
"""

from __future__ import annotations

import html
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from dashboard.i18n import translate
from dashboard.static_assets import blank_style_url
from dashboard.theme import OVERDUE_OUTLINE, STATE_COLOURS

POLYGON_LIMIT = 4000
CASE_POINT_LIMIT = 3000
HOTSPOT_COLOURS = {
    "hot_99": (128, 0, 38),
    "hot_95": (214, 48, 39),
    "hot_90": (253, 141, 60),
    "cold_90": (116, 169, 207),
    "cold_95": (54, 144, 192),
    "cold_99": (5, 112, 176),
}
STREET_RGB = {"main": (140, 140, 140, 255), "street": (166, 166, 166, 255), "lane": (189, 189, 189, 255)}


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation: pydeck indents by two spaces, which
    doubles what Streamlit ships to the browser for large layers."""

    def to_json(self) -> str:
        from pydeck.bindings.json_tools import default_serialize

        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))


def rgb(hex_colour: str, alpha: int = 255) -> list[int]:
    hex_colour = hex_colour.lstrip("#")
    return [int(hex_colour[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]


def _rings(geometry: gpd.GeoSeries, tolerance_deg: float = 1e-5) -> list[list[list[float]]]:
    """Exterior ring of each polygon (largest part of multipolygons), simplified and rounded."""
    simple = shapely.simplify(geometry.values, tolerance_deg, preserve_topology=True)
    rings = []
    for geom in simple:
        if geom is None or geom.is_empty:
            rings.append([])
            continue
        if geom.geom_type == "MultiPolygon":
            geom = max(geom.geoms, key=lambda g: g.area)
        rings.append(np.round(np.asarray(geom.exterior.coords)[:, :2], 6).tolist())
    return rings


def _points(geometry: gpd.GeoSeries) -> np.ndarray:
    return np.round(shapely.get_coordinates(shapely.point_on_surface(geometry.values)), 6)


def district_deck(
    grids: gpd.GeoDataFrame,
    cases: gpd.GeoDataFrame,
    hotspots: pd.DataFrame,
    features: gpd.GeoDataFrame,
    *,
    language: str,
    show_cases: bool = True,
    show_heat: bool = True,
    show_hotspots: bool = True,
    selected_code: str | None = None,
    base_url_path: str = "",
) -> pdk.Deck:
    """Grids by worst open state (overdue outlined), streets, hexagons, hotspots and cases."""
    t = lambda key, **kw: translate(key, language, **kw)  # noqa: E731
    layers: list[pdk.Layer] = []

    streets = features[features["kind"] == "street"] if len(features) else features
    if len(streets):
        street_rows = [
            {"path": np.round(np.asarray(geom.coords)[:, :2], 6).tolist(),
             "color": STREET_RGB.get(str(cls), STREET_RGB["lane"]),
             "width": {"main": 8, "street": 5}.get(str(cls), 2)}
            for geom, cls in zip(streets.geometry.explode(index_parts=False).values,
                                 streets.explode(index_parts=False)["street_class"], strict=True)
            if geom is not None and geom.geom_type == "LineString"
        ]
        layers.append(pdk.Layer("PathLayer", id="streets", data=street_rows, get_path="path",
                                get_color="color", get_width="width", width_units="'meters'",
                                width_min_pixels=1, pickable=False))

    g = grids.copy()
    g["worst_state"] = g["worst_state"].fillna("closed").astype(str)
    g["overdue"] = g["overdue"].fillna(0).astype(int)
    g["open"] = g["open"].fillna(0).astype(int)
    g["warning"] = g["warning"].fillna(0).astype(int)
    base = {
        "code": g["code"].map(lambda s: html.escape(str(s))).tolist(),
        "title": [html.escape(t(f"state.{s}")) for s in g["worst_state"]],
        "detail": [html.escape(f"{t('tooltip.open')}: {o} · {t('tooltip.overdue')}: {d} · "
                               f"{t('state.warning')}: {w}")
                   for o, d, w in zip(g["open"], g["overdue"], g["warning"], strict=True)],
        "fill": [rgb(STATE_COLOURS.get(s, "#999999"), 120) for s in g["worst_state"]],
        "line": [rgb(OVERDUE_OUTLINE) if o else [85, 85, 85, 200] for o in g["overdue"]],
        "line_w": [4 if o else 1 for o in g["overdue"]],
    }
    if selected_code is not None:
        base["line"] = [[0, 0, 0, 255] if c == selected_code else line
                        for c, line in zip(g["code"], base["line"], strict=True)]
        base["line_w"] = [6 if c == selected_code else w
                          for c, w in zip(g["code"], base["line_w"], strict=True)]
    grid_rows = pd.DataFrame(base)
    if len(g) <= POLYGON_LIMIT:
        grid_rows["polygon"] = _rings(g.geometry)
        layers.append(pdk.Layer(
            "PolygonLayer", id="grids", data=grid_rows, get_polygon="polygon", get_fill_color="fill",
            get_line_color="line", get_line_width="line_w", line_width_units="'pixels'",
            stroked=True, filled=True, pickable=True, auto_highlight=True,
        ))
    else:
        xy = _points(g.geometry)
        grid_rows["position"] = xy.tolist()
        layers.append(pdk.Layer(
            "ScatterplotLayer", id="grids", data=grid_rows, get_position="position",
            get_fill_color="fill", get_line_color="line", get_line_width="line_w",
            line_width_units="'pixels'", stroked=True, radius_min_pixels=3, get_radius=25,
            pickable=True, auto_highlight=True,
        ))

    if show_heat and g["warning"].sum() > 0:
        xy = _points(g.geometry)
        heat = pd.DataFrame({"position": xy.tolist(), "weight": g["warning"].tolist()})
        heat = heat[heat["weight"] > 0]
        layers.append(pdk.Layer(
            "HexagonLayer", id="warning-hexagons", data=heat, get_position="position",
            get_color_weight="weight", get_elevation_weight="weight", color_aggregation="'SUM'",
            elevation_aggregation="'SUM'", radius=60, extruded=False, opacity=0.35,
            color_range=[[255, 255, 178], [254, 217, 118], [254, 178, 76], [253, 141, 60],
                         [240, 59, 32], [189, 0, 38]],
            pickable=False,
        ))

    if show_hotspots and len(hotspots):
        hot = g[["code", "geometry"]].merge(pd.DataFrame(hotspots).drop(columns="geometry", errors="ignore"), on="code")
        hot = hot[hot["gi_class"].astype(str).str.startswith(("hot", "cold"))]
        if len(hot):
            hot_rows = pd.DataFrame({
                "code": hot["code"].map(lambda s: html.escape(str(s))).tolist(),
                "state": [t(f"gi.{c}") for c in hot["gi_class"]],
                "z": hot["gi_z"].round(2).tolist(),
                "line": [list(HOTSPOT_COLOURS[c]) + [255] for c in hot["gi_class"]],
            })
            if len(g) <= POLYGON_LIMIT:
                hot_rows["polygon"] = _rings(hot.geometry)
                layers.append(pdk.Layer(
                    "PolygonLayer", id="hotspots", data=hot_rows, get_polygon="polygon", filled=False,
                    stroked=True, get_line_color="line", get_line_width=3, line_width_units="'pixels'",
                    pickable=False,
                ))
            else:
                hot_rows["position"] = _points(hot.geometry).tolist()
                layers.append(pdk.Layer(
                    "ScatterplotLayer", id="hotspots", data=hot_rows, get_position="position",
                    filled=False, stroked=True, get_line_color="line", get_line_width=2,
                    line_width_units="'pixels'", get_radius=60, radius_min_pixels=6, pickable=False,
                ))

    if show_cases and len(cases):
        c = cases[cases["state"].astype(str) != "closed"]
        c = c.sort_values(["overdue", "created_at"], ascending=[False, False]).head(CASE_POINT_LIMIT)
        if len(c):
            xy = np.round(shapely.get_coordinates(c.geometry.values), 6)
            case_rows = pd.DataFrame({
                "position": xy.tolist(),
                "code": c["case_no"].map(lambda s: html.escape(str(s))).tolist(),
                "title": c["title"].map(lambda s: html.escape(str(s))).tolist(),
                "detail": [html.escape(t(f"category.{k}") + " · " + t(f"state.{s}")
                                       + (f" · {t('state.overdue')}" if o else ""))
                           for k, s, o in zip(c["category"].astype(str), c["state"].astype(str),
                                              c["overdue"].astype(bool), strict=True)],
                "fill": [rgb(STATE_COLOURS.get(s, "#999999"), 230) for s in c["state"].astype(str)],
                "line": [rgb(OVERDUE_OUTLINE) if o else [255, 255, 255, 255] for o in c["overdue"].astype(bool)],
            })
            layers.append(pdk.Layer(
                "ScatterplotLayer", id="cases", data=case_rows, get_position="position",
                get_fill_color="fill", get_line_color="line", stroked=True, get_line_width=2,
                line_width_units="'pixels'", get_radius=4, radius_min_pixels=3, radius_max_pixels=9,
                pickable=True,
            ))

    minx, miny, maxx, maxy = grids.total_bounds if len(grids) else (118.6, 24.9, 118.7, 25.0)
    # Fit the district into a map about 560 px across (Web Mercator: 512 px per world at zoom 1).
    lat_scale = 1 / max(np.cos(np.radians((miny + maxy) / 2)), 0.2)
    span = max(maxx - minx, (maxy - miny) * lat_scale, 1e-4)
    zoom = float(np.clip(np.log2(0.9 * 560 * 360 / (512 * span)), 3, 19))
    view = pdk.ViewState(longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=zoom)
    tooltip = {
        "html": "<b>{code}</b><br/>{title}<br/>{detail}",
        "style": {"fontSize": "13px"},
    }
    # No basemap: a local blank style, else Streamlit fetches a Carto style from the internet.
    return CompactDeck(layers=layers, initial_view_state=view, map_provider=None,
                       map_style=blank_style_url(base_url_path), tooltip=tooltip)


def deck_legend_html(language: str) -> str:
    """Legend for the deck map (no user text inside)."""
    from dashboard.maps import legend_html

    t = lambda key: html.escape(translate(key, language))  # noqa: E731
    hot = "".join(
        f'<span style="display:inline-block;width:12px;height:12px;margin:0 4px 0 8px;'
        f'border:3px solid rgb{HOTSPOT_COLOURS[c]}"></span>{t(f"gi.{c}")}'
        for c in ("hot_99", "hot_95", "hot_90")
    )
    return (legend_html(language, cases=True).replace(
        "position:absolute;bottom:26px;right:10px;",
        "display:flex;flex-wrap:wrap;column-gap:18px;align-items:center;")
            + f'<div style="font-size:13px;margin-top:4px">{hot}</div>')
