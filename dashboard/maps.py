"""Folium maps that draw with no internet: local Leaflet, no tiles needed.

Every string that reaches a tooltip or popup is escaped here: folium puts
property values into the page as HTML.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from dashboard.i18n import translate
from dashboard.static_assets import leaflet_urls
from dashboard.theme import (
    MAP_BACKGROUND,
    OVERDUE_OUTLINE,
    SHOP_COLOUR,
    STATE_COLOURS,
    STREET_STYLE,
)
from dashboard.tiles import tile_spec, to_display
from governance.catalog import STATE_SEVERITY_ORDER
from governance.clock import local_text
from governance.loop_summary import with_loop_figures

#: The district outline: dashed, unfilled, so the grids' state colours read through it.
#: The day's walk: its path and numbered stops, apart from every state colour.
WALK_COLOUR = "#1d4ed8"
BOUNDARY_STYLE = {"color": "#5a4a8a", "weight": 3, "dashArray": "8 6", "fill": False, "opacity": 0.9}


class OfflineMap(folium.Map):
    """A folium Map whose only scripts are Leaflet from the app's own static folder."""

    def __init__(self, *args, base_url_path: str = "", **kwargs):
        js, css = leaflet_urls(base_url_path)
        # Instance attributes shadow folium's CDN lists (Leaflet, jQuery,
        # Bootstrap, Font Awesome); our layers need Leaflet alone.
        self.default_js = [("leaflet", js)]
        self.default_css = [("leaflet_css", css)]
        super().__init__(*args, **kwargs)


class FitBoundsOnResize(MacroElement):
    """Fit the bounds whenever the map's box changes size.

    Streamlit lays out the component's iframe after Leaflet first draws, so
    a one-off fitBounds fits a box of the wrong size and leaves the district
    small in a corner.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = {{ this.bounds|tojson }};
            var fit = function () { map.invalidateSize(); map.fitBounds(bounds, {padding: [8, 8]}); };
            if (window.ResizeObserver) { new ResizeObserver(fit).observe(map.getContainer()); }
            fit();
        })();
        {% endmacro %}"""
    )

    def __init__(self, bounds: list[list[float]]):
        super().__init__()
        self._name = "FitBoundsOnResize"
        self.bounds = bounds


def _street_style(feature: dict) -> dict:
    colour, weight = STREET_STYLE.get(feature["properties"]["street_class"], STREET_STYLE["lane"])
    return {"color": colour, "weight": weight, "opacity": 0.6}


def _escaped(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = out[column].map(lambda value: html.escape(str(value)))
    return out


def legend_html(language: str, *, cases: bool = False, compact: bool = False) -> str:
    t = lambda key: html.escape(translate(key, language))  # noqa: E731
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;margin-right:6px;'
        f'vertical-align:middle;background:{STATE_COLOURS[state]};opacity:.8"></span>'
        f"{t('legend.closed_only') if state == 'closed' else t(f'state.{state}')}</div>"
        for state in (s.value for s in STATE_SEVERITY_ORDER)
    )
    return (
        # On a phone the legend shrinks so that it hides less of the grid.
        "<style>@media (max-width: 480px) {.linpu-legend{font-size:10px!important;line-height:1.35!important;"
        "padding:4px 6px!important;bottom:20px!important;right:4px!important}"
        ".linpu-legend span{width:9px!important;height:9px!important}}</style>"
        '<div class="linpu-legend" style="position:absolute;bottom:26px;right:10px;z-index:1000;'
        "background:rgba(255,255,255,.92);padding:8px 10px;border-radius:6px;font:13px/1.6 "
        "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3)\">"
        f"<b>{t('legend.title')}</b>{rows}"
        f'<div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;'
        f'vertical-align:middle;border:3px solid {OVERDUE_OUTLINE}"></span>{t("legend.overdue")}</div>'
        f'<div><span style="display:inline-block;width:8px;height:8px;margin:0 9px 0 3px;'
        f'border-radius:50%;vertical-align:middle;background:{SHOP_COLOUR}"></span>{t("legend.shop")}</div>'
        + (
            f'<div><span style="display:inline-block;width:12px;height:12px;margin:0 7px 0 1px;'
            f'border-radius:50%;vertical-align:middle;background:{STATE_COLOURS["warning"]};'
            f'border:2px solid #fff;box-shadow:0 0 0 1px #999"></span>{t("legend.case")}</div>'
            if cases
            else ""
        )
        + (compact_legend_rows(language) if compact else "")
        + "</div>"
    )


def _base_map(bounds, *, base_url_path: str, tiles: str, tile_key: str | None) -> folium.Map:
    minx, miny, maxx, maxy = bounds
    spec = tile_spec(tiles, tile_key)
    fmap = OfflineMap(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=17,
        zoom_snap=0.25,
        control_scale=True,
        prefer_canvas=True,
        base_url_path=base_url_path,
    )
    if spec:
        folium.TileLayer(**spec).add_to(fmap)
    FitBoundsOnResize([[miny, minx], [maxy, maxx]]).add_to(fmap)
    fmap.get_root().header.add_child(
        folium.Element(f"<style>.leaflet-container{{background:{MAP_BACKGROUND};}}</style>")
    )
    return fmap


def draw_district(fmap: folium.Map, features: gpd.GeoDataFrame, bounds, *, tiles: str = "none") -> None:
    """The stored boundary (dashed outline) and the streets near ``bounds``, neither interactive.

    Drawn over the grid fills so that streets still read; not interactive, so
    clicks and hovers reach the grid underneath.
    """
    if not len(features):
        return
    boundary = features[features["kind"] == "boundary"]
    if len(boundary):
        folium.GeoJson(to_display(boundary[["geometry"]], tiles), name="district-boundary",
                       style_function=lambda _: BOUNDARY_STYLE, interactive=False).add_to(fmap)
    minx, miny, maxx, maxy = bounds
    pad = 0.002
    streets = features[features["kind"] == "street"].cx[minx - pad:maxx + pad, miny - pad:maxy + pad]
    if len(streets):
        folium.GeoJson(
            to_display(_escaped(streets, ["name"])[["name", "street_class", "geometry"]], tiles),
            name="streets", style_function=_street_style, interactive=False,
        ).add_to(fmap)


#: The compact's layers: stall zones green, frontage strips amber, service points blue.
STALL_STYLE = {"color": "#15803d", "weight": 2, "fillColor": "#22c55e", "fillOpacity": 0.3}
FRONTAGE_STYLE = {"color": "#b45309", "weight": 1, "fillColor": "#f59e0b", "fillOpacity": 0.35}
SERVICE_POINT_COLOUR = "#1d4ed8"


def compact_legend_rows(language: str) -> str:
    """Legend rows of the compact's layers (stall zone, frontage zone, service point)."""
    t = lambda key: html.escape(translate(key, language))  # noqa: E731
    swatch = ('<div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;'
              'vertical-align:middle;background:{fill};border:2px solid {line}"></span>{text}</div>')
    return (swatch.format(fill=STALL_STYLE["fillColor"], line=STALL_STYLE["color"], text=t("legend.stall_zone"))
            + swatch.format(fill=FRONTAGE_STYLE["fillColor"], line=FRONTAGE_STYLE["color"],
                            text=t("legend.frontage"))
            + f'<div><span style="display:inline-block;width:10px;height:10px;margin:0 8px 0 2px;'
              f'border-radius:50%;vertical-align:middle;background:{SERVICE_POINT_COLOUR}"></span>'
              f'{t("legend.service_point")}</div>')


def draw_compact(fmap: folium.Map, compact: gpd.GeoDataFrame, *, language: str = "zh",
                 tiles: str = "none") -> None:
    """Frontage strips (not interactive), stall zones and service points with their names and hours.

    Names and hours come from the office's files: escaped before folium writes them into the page.
    """
    if compact is None or not len(compact):
        return
    t = lambda key: translate(key, language)  # noqa: E731
    shown = compact.copy()
    shown["hours_text"] = [h if isinstance(h, str) and h else t("compact.no_hours") for h in shown["hours"]]
    shown = _escaped(shown, ["name", "hours_text"])
    frontage = shown[shown["kind"] == "frontage"]
    if len(frontage):
        folium.GeoJson(to_display(frontage[["geometry"]], tiles), name="frontage",
                       style_function=lambda _: FRONTAGE_STYLE, interactive=False).add_to(fmap)
    stalls = shown[shown["kind"] == "stall"]
    if len(stalls):
        folium.GeoJson(
            to_display(stalls[["name", "hours_text", "geometry"]], tiles), name="stall-zones",
            style_function=lambda _: STALL_STYLE,
            tooltip=folium.GeoJsonTooltip(fields=["name", "hours_text"],
                                          aliases=[t("legend.stall_zone"), t("compact.hours")]),
        ).add_to(fmap)
    points = shown[shown["kind"] == "service_point"]
    if len(points):
        points = points.assign(geometry=points.geometry.representative_point())
        folium.GeoJson(
            to_display(points[["name", "hours_text", "geometry"]], tiles), name="service-points",
            marker=folium.CircleMarker(radius=7, color="#ffffff", weight=2, fill=True,
                                       fill_color=SERVICE_POINT_COLOUR, fill_opacity=0.95),
            tooltip=folium.GeoJsonTooltip(fields=["name", "hours_text"],
                                          aliases=[t("legend.service_point"), t("compact.hours")]),
        ).add_to(fmap)


def draw_walk(fmap: folium.Map, walk: dict, *, tiles: str, language: str) -> None:
    """The day's walk: its path and each stop's number on the map (titles escaped in the tooltips)."""
    if walk["path"] is not None:
        path = to_display(gpd.GeoDataFrame(geometry=[walk["path"]], crs=4326), tiles).geometry.iloc[0]
        folium.PolyLine([(y, x) for x, y in path.coords], color=WALK_COLOUR, weight=4, opacity=0.85,
                        tooltip=html.escape(translate("walk.length", language, m=f"{walk['length_m']:,.0f}"))
                        ).add_to(fmap)
    stops = to_display(walk["stops"], tiles)
    for stop, title, point in zip(stops["stop"], stops["title"], stops.geometry, strict=True):
        folium.Marker(
            location=[point.y, point.x], tooltip=html.escape(f"{int(stop)}. {title}"),
            icon=folium.DivIcon(
                icon_size=(24, 24), icon_anchor=(12, 12), class_name="linpu-walk-stop",
                html=(f'<div style="width:24px;height:24px;border-radius:12px;background:{WALK_COLOUR};color:#fff;'
                      f'font:700 13px/24px sans-serif;text-align:center;border:2px solid #fff">{int(stop)}</div>'),
            ),
        ).add_to(fmap)


def leader_map(
    grids: gpd.GeoDataFrame,
    summary: pd.DataFrame,
    shops: gpd.GeoDataFrame,
    cases: gpd.GeoDataFrame,
    features: gpd.GeoDataFrame,
    *,
    compact: gpd.GeoDataFrame | None = None,
    clicked: tuple[float, float] | None = None,
    walk: dict | None = None,
    language: str = "zh",
    base_url_path: str = "",
    tiles: str = "none",
    tile_key: str | None = None,
) -> folium.Map:
    # Long: one folium map's layers in drawing order.
    """A grid leader's own grid(s): streets, the compact's zones, shops, open cases by state, the clicked point.

    Only what the caller passes is drawn; the caller passes the leader's
    scope alone (``compact``: ``governance.compact.compact_layer``).
    ``clicked`` is (lon, lat) in WGS84; ``walk`` is ``data.day_walk``'s route.
    """
    t = lambda key, **kw: translate(key, language, **kw)  # noqa: E731
    layer = with_loop_figures(grids, summary)
    layer[["open", "overdue"]] = layer[["open", "overdue"]].fillna(0).astype(int)
    layer["worst_state"] = layer["worst_state"].fillna("closed")
    layer["state_label"] = layer["worst_state"].map(lambda s: t(f"state.{s}"))
    layer = to_display(_escaped(layer, ["code", "state_label"]), tiles)
    fmap = _base_map(layer.total_bounds, base_url_path=base_url_path, tiles=tiles, tile_key=tile_key)

    folium.GeoJson(
        layer[["code", "n_shops", "open", "overdue", "worst_state", "state_label", "geometry"]],
        name="grids",
        style_function=lambda f: {
            "fillColor": STATE_COLOURS[f["properties"]["worst_state"]],
            "fillOpacity": 0.25,
            "color": OVERDUE_OUTLINE if f["properties"]["overdue"] else "#555555",
            "weight": 4 if f["properties"]["overdue"] else 1.5,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "n_shops", "state_label", "open", "overdue"],
            aliases=[t("tooltip.grid"), t("tooltip.shops"), t("col.worst_state"),
                     t("tooltip.open"), t("tooltip.overdue")],
        ),
    ).add_to(fmap)

    draw_district(fmap, features, grids.total_bounds, tiles=tiles)
    draw_compact(fmap, compact, language=language, tiles=tiles)

    if len(shops):
        folium.GeoJson(
            to_display(_escaped(shops, ["name", "shop_code"])[["name", "shop_code", "geometry"]], tiles),
            name="shops",
            marker=folium.CircleMarker(radius=5, color=SHOP_COLOUR, weight=1, fill=True,
                                       fill_color="#ffffff", fill_opacity=0.9),
            tooltip=folium.GeoJsonTooltip(fields=["name", "shop_code"], labels=False),
        ).add_to(fmap)

    if len(cases):
        shown = cases.copy()
        shown["state_label"] = shown["state"].map(lambda s: t(f"state.{s}"))
        shown["category_label"] = shown["category"].map(lambda s: t(f"category.{s}"))
        shown["due"] = local_text(shown["due_at"], fmt="%m-%d %H:%M").to_numpy()  # stored UTC, read local
        shown["overdue"] = shown["overdue"].astype(bool)
        occupation = shown["occupation"] if "occupation" in shown else pd.Series(None, index=shown.index)
        # A road-occupation finding's stall-zone check follows its category: "占道经营 · 不在任何摊区".
        shown["category_label"] += [f" · {t(f'occupation.{o}')}" if isinstance(o, str) else "" for o in occupation]
        shown = _escaped(shown, ["case_no", "title", "state_label", "category_label", "due"])
        folium.GeoJson(
            to_display(shown[["case_no", "title", "state", "state_label", "category_label", "due",
                              "overdue", "geometry"]], tiles),
            name="cases",
            marker=folium.CircleMarker(radius=8, fill=True, fill_opacity=0.95),
            style_function=lambda f: {
                "fillColor": STATE_COLOURS.get(f["properties"]["state"], "#999999"),
                "color": OVERDUE_OUTLINE if f["properties"]["overdue"] else "#ffffff",
                "weight": 4 if f["properties"]["overdue"] else 1.5,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["case_no", "title", "category_label", "state_label", "due"],
                aliases=[t("col.case_no"), t("col.title"), t("col.category"), t("col.state"), t("col.due_at")],
            ),
        ).add_to(fmap)

    if walk is not None:
        draw_walk(fmap, walk, tiles=tiles, language=language)

    if clicked is not None:
        point = to_display(gpd.GeoDataFrame(geometry=gpd.points_from_xy([clicked[0]], [clicked[1]]), crs=4326),
                           tiles).geometry.iloc[0]
        folium.CircleMarker(
            location=[point.y, point.x], radius=10, color="#000000", weight=3, fill=True,
            fill_color="#ffeb3b", fill_opacity=0.9, tooltip=html.escape(t("legend.new_point")),
        ).add_to(fmap)

    fmap.get_root().html.add_child(folium.Element(legend_html(language, cases=True,
                                                              compact=compact is not None and len(compact) > 0)))
    return fmap


def grids_map(
    grids: gpd.GeoDataFrame,
    shops: gpd.GeoDataFrame,
    *,
    min_size: int,
    max_size: int,
    features: gpd.GeoDataFrame | None = None,
    language: str = "zh",
    base_url_path: str = "",
) -> folium.Map:
    """A gridding for comparison: grids within the size bounds pale, others highlighted.

    ``features`` (the stored boundary and streets) are drawn over the grids, as on every map.
    """
    t = lambda key, **kw: translate(key, language, **kw)  # noqa: E731
    layer = grids.to_crs(4326)[["code", "n_shops", "geometry"]].copy()
    layer["ok"] = layer["n_shops"].between(min_size, max_size)
    layer = _escaped(layer, ["code"])
    fmap = _base_map(layer.total_bounds, base_url_path=base_url_path, tiles="none", tile_key=None)
    folium.GeoJson(
        layer,
        style_function=lambda f: {
            "fillColor": "#9ecae1" if f["properties"]["ok"] else "#fdae6b",
            "fillOpacity": 0.45, "color": "#3b3b3b", "weight": 1,
        },
        tooltip=folium.GeoJsonTooltip(fields=["code", "n_shops"], aliases=[t("col.code"), t("col.n_shops")]),
    ).add_to(fmap)
    if features is not None:
        draw_district(fmap, features, layer.total_bounds)
    if len(shops):
        folium.GeoJson(
            shops.to_crs(4326)[["geometry"]],
            marker=folium.CircleMarker(radius=2, color=SHOP_COLOUR, weight=1, fill=True, fill_opacity=0.9),
            interactive=False,
        ).add_to(fmap)
    return fmap
