"""The supervisor's district map in pydeck (deck.gl bundled with Streamlit, no basemap).

Size matters at city scale (10,000 grids, 1,000,000 cases), since every
rerun ships the layers to the browser as JSON, and the browser parses and
uploads all of it before the map is drawn:

- rows carry short keys only: grids are split into one layer per state and
  overdue flag with constant colours, case points colour by deck.gl
  expressions over a state index (``s``) and an overdue flag (``o``); the
  tooltip shows ``c``, ``t`` and ``d`` (every row of a pickable layer has
  all three, or the placeholder shows);
- grid polygons are simplified (1 m) and rounded to 6 decimals (0.1 m);
  beyond ``POLYGON_LIMIT`` grids each grid is drawn as one point at 5
  decimals (1 m), coloured the same way, until the filters narrow the set;
- the warning density is a HexagonLayer over grid points weighted by their
  open warnings (aggregated per grid, not one point per case; 4 decimals);
- case points are capped at ``CASE_POINT_LIMIT`` (overdue and newest first,
  chosen by the query);
- JSON without indentation and without escapes of Chinese text;
- the layers of the district's stored map (``STATIC_LAYERS``: boundary, streets,
  stall zones, service points) do not change with the filters: given
  ``layer_urls``, the deck names a URL for each and the browser loads its rows
  once from the app's route and keeps them (``dashboard.layer_routes``).

Tooltips are plain text (``tooltip.text``: deck.gl sets the tooltip's
``innerText``), so a title typed by a user is never parsed as HTML, whatever
the Streamlit version; escaping it as well would show ``&lt;`` to the reader
(Streamlit 1.67 escapes values it interpolates into ``tooltip.html``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely
from pydeck.bindings.json_tools import default_serialize

from dashboard.i18n import translate
from dashboard.maps import legend_html
from dashboard.theme import OVERDUE_OUTLINE, STATE_COLOURS
from governance.catalog import STATE_SEVERITY_ORDER, CaseState

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
BOUNDARY_RGB = (90, 74, 138, 255)
STREET_RGB = {"main": (140, 140, 140, 255), "street": (166, 166, 166, 255), "lane": (189, 189, 189, 255)}
#: The state index ``s`` of a row: warning 0, in progress 1, follow-up 2, closed 3.
STATE_INDEX = {state.value: i for i, state in enumerate(STATE_SEVERITY_ORDER)}


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation and no ``\\uXXXX`` escapes: pydeck indents
    by two spaces and escapes every Chinese character to six bytes, which more than
    doubles what Streamlit ships to the browser for large layers."""

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"),
                          ensure_ascii=False)

    def frozen(self) -> FrozenDeck:
        """This deck serialised once, for a cache: the same JSON and tooltip on every rerun."""
        return FrozenDeck(self.to_json(), self._tooltip)


class FrozenDeck(pdk.Deck):
    """A deck already serialised: ``st.pydeck_chart`` reads its JSON and tooltip and
    has no layer left to convert, so a cached map costs nothing to draw again."""

    def __init__(self, spec: str, tooltip) -> None:
        super().__init__(layers=[], map_provider=None, tooltip=tooltip)
        self._spec = spec

    def to_json(self) -> str:
        return self._spec


#: The compact's colours, as on the leader's folium map (dashboard.maps).
STALL_HEX = "#22c55e"
SERVICE_POINT_HEX = "#1d4ed8"


def rgb(hex_colour: str, alpha: int = 255) -> list[int]:
    hex_colour = hex_colour.lstrip("#")
    return [int(hex_colour[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]


def _pick(index: str, colours: list[list[int]]) -> str:
    """A deck.gl expression choosing ``colours[index]`` (nested conditionals)."""
    expression = str(colours[-1])
    for i in range(len(colours) - 2, -1, -1):
        expression = f"{index}=={i}?{colours[i]}:({expression})"
    return expression


def state_fill(alpha: int) -> str:
    return _pick("s", [rgb(STATE_COLOURS[state], alpha) for state in STATE_SEVERITY_ORDER])


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


def _points(geometry: gpd.GeoSeries, decimals: int = 5) -> np.ndarray:
    return np.round(shapely.get_coordinates(shapely.point_on_surface(geometry.values)), decimals)


HEX_COLOURS = [[255, 255, 178, 255], [254, 217, 118, 255], [254, 178, 76, 255], [253, 141, 60, 255],
               [240, 59, 32, 255], [189, 0, 38, 255]]
#: About this many hexagons across the district, however many grids it has.
HEXAGONS_ACROSS = 40


def warning_hexagons(xy: np.ndarray, weights: np.ndarray, bounds) -> pd.DataFrame:
    """Sum ``weights`` at lon/lat points ``xy`` into flat-topped hexagons: p (centre), w (sum), k (colour class).

    The radius (``attrs["radius_m"]``, at least 60 m) follows the district's
    extent, so a city is summarised in about ``HEXAGONS_ACROSS`` cells across
    and a small district keeps hexagons about one grid wide.  Colour classes
    split [1, max] into ``len(HEX_COLOURS)`` equal steps.
    """
    minx, miny, maxx, maxy = bounds
    lat0 = np.radians((miny + maxy) / 2)
    mx, my = 111_320.0 * np.cos(lat0), 110_540.0  # metres per degree near the district
    radius = max(60.0, max((maxx - minx) * mx, (maxy - miny) * my) / HEXAGONS_ACROSS / 1.5)
    x, y = (xy[:, 0] - minx) * mx, (xy[:, 1] - miny) * my
    # Axial coordinates of flat-topped hexagons, rounded through cube coordinates.
    q, r = (2 / 3 * x) / radius, (-x / 3 + np.sqrt(3) / 3 * y) / radius
    cube = np.stack([q, -q - r, r])
    rounded = np.round(cube)
    diff = np.abs(rounded - cube)
    worst = diff.argmax(axis=0)
    for axis in range(3):
        fix = worst == axis
        others = [a for a in range(3) if a != axis]
        rounded[axis, fix] = -rounded[others[0], fix] - rounded[others[1], fix]
    cells = pd.DataFrame({"q": rounded[0].astype(int), "r": rounded[2].astype(int), "w": weights})
    cells = cells.groupby(["q", "r"], as_index=False)["w"].sum()
    cx = radius * 1.5 * cells["q"]
    cy = radius * np.sqrt(3) * (cells["r"] + cells["q"] / 2)
    centres = np.round(np.column_stack([minx + cx / mx, miny + cy / my]), 5)
    top = max(int(cells["w"].max()), 1)
    steps = len(HEX_COLOURS)
    k = np.minimum((cells["w"] - 1) * steps // top, steps - 1)
    out = pd.DataFrame({"p": centres.tolist(), "w": cells["w"].astype(int), "k": k.astype(int)})
    out.attrs["radius_m"] = round(radius, 1)
    return out


def boundary_paths(geometry: gpd.GeoSeries) -> list[dict]:
    """The district's outline as path rows: every ring of every boundary polygon, 6 decimals."""
    rings = shapely.get_rings(shapely.get_parts(np.asarray(geometry.values, dtype=object)))
    return [{"path": np.round(shapely.get_coordinates(ring), 6).tolist()} for ring in rings]


#: The layers drawn from the district's stored map, by name, with the ``kind`` of
#: ``district_features`` each draws.  The filters never change them, so a page can have
#: the browser load them once by URL (``dashboard.layer_routes``) instead of shipping
#: their rows with every rerun's deck.
STATIC_LAYERS = {"boundary": "boundary", "streets": "street", "stalls": "stall", "service-points": "service_point"}
#: Street centre lines at 5 decimals (about 1 m): the narrowest street is drawn 2 m wide,
#: so the half metre of rounding never moves one off its own band, and the district's
#: thousands of segments (an OSM extract) cost a sixth less than at 6.  The boundary and
#: stall zones keep the grids' 6 decimals (0.1 m): few rings, and they meet the grid edges.
STREET_DECIMALS = 5


def features_of_kind(features: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """The rows of ``district_features`` of one ``kind`` (an empty frame has no columns to test)."""
    return features[features["kind"] == kind] if len(features) else features


def static_layer_rows(name: str, features: gpd.GeoDataFrame) -> list[dict]:
    """The rows deck.gl draws for static layer ``name`` from its features (of its kind only).

    The one place they are made: the deck embeds them and ``dashboard.layer_routes``
    serves them alike.
    """
    if name == "boundary":
        return boundary_paths(features.geometry)
    if name == "streets":
        parts = features.explode(index_parts=False)
        return [
            {"path": np.round(np.asarray(geom.coords)[:, :2], STREET_DECIMALS).tolist(),
             "color": list(STREET_RGB.get(str(cls), STREET_RGB["lane"])),
             "width": {"main": 8, "street": 5}.get(str(cls), 2)}
            for geom, cls in zip(parts.geometry.values, parts["street_class"], strict=True)
            if geom is not None and geom.geom_type == "LineString"
        ]
    if name == "stalls":
        return [{"polygon": ring} for ring in _rings(features.geometry)]
    if name == "service-points":
        return [{"position": xy} for xy in _points(features.geometry.representative_point()).tolist()]
    raise ValueError(f"static layer {name!r} is unknown: name one of {', '.join(STATIC_LAYERS)}")


def static_layer(name: str, data: list[dict] | str) -> pdk.Layer:
    """Static layer ``name`` drawing ``data``: its rows, or the URL the browser loads them from."""
    if name == "boundary":
        return pdk.Layer("PathLayer", id="district-boundary", data=data, get_path="path",
                         get_color=list(BOUNDARY_RGB), get_width=3, width_units="'pixels'", pickable=False)
    if name == "streets":
        return pdk.Layer("PathLayer", id="streets", data=data, get_path="path", get_color="color",
                         get_width="width", width_units="'meters'", width_min_pixels=1, pickable=False)
    # The compact's stored stall zones and service points (frontage strips are too small to read here).
    if name == "stalls":
        return pdk.Layer("PolygonLayer", id="stall-zones", data=data, get_polygon="polygon",
                         get_fill_color=rgb(STALL_HEX, 90), get_line_color=rgb(STALL_HEX),
                         line_width_min_pixels=1, pickable=False)
    if name == "service-points":
        return pdk.Layer("ScatterplotLayer", id="service-points", data=data, get_position="position",
                         get_fill_color=rgb(SERVICE_POINT_HEX), get_radius=6, radius_units="'pixels'",
                         pickable=False)
    raise ValueError(f"static layer {name!r} is unknown: name one of {', '.join(STATIC_LAYERS)}")


def _texts(values) -> list[str]:
    return [str(v) for v in values]


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
    layer_urls: Mapping[str, str] | None = None,
) -> pdk.Deck:
    # Long: one deck's layers in drawing order, each a few lines; splitting would scatter the order.
    """Grids by worst open state (overdue outlined), streets, hexagons, hotspots and cases.

    Picked grids and cases come back (``on_select``) with their code in ``c``; the
    grids are drawn by layers whose ids start with ``grids`` (see ``picked_grid``).
    ``layer_urls`` maps names of :data:`STATIC_LAYERS` to the URL the browser loads
    that layer's rows from (``dashboard.layer_routes``); a layer not named there
    carries its rows in the deck, as every layer does for a caller without a server.
    """
    t = lambda key, **kw: translate(key, language, **kw)  # noqa: E731
    layers: list[pdk.Layer] = []
    as_polygons = len(grids) <= POLYGON_LIMIT

    for name in STATIC_LAYERS:
        of_kind = features_of_kind(features, STATIC_LAYERS[name])
        if len(of_kind):
            given = (layer_urls or {}).get(name)
            layers.append(static_layer(name, given if given is not None else static_layer_rows(name, of_kind)))

    g = grids.copy()
    g["worst_state"] = g["worst_state"].fillna("closed").astype(str)
    g["overdue"] = g["overdue"].fillna(0).astype(int)
    g["open"] = g["open"].fillna(0).astype(int)
    g["warning"] = g["warning"].fillna(0).astype(int)
    labels = {state: t(f"state.{state}") for state in STATE_INDEX}
    open_label, overdue_label = t("tooltip.open"), t("tooltip.overdue")
    # At city scale the tooltip names the grid and its state only (its figures are one
    # click away): the counts would more than double the layer.
    counts = (_texts(f"{open_label}: {o} · {overdue_label}: {d} · {labels['warning']}: {w}"
                       for o, d, w in zip(g["open"], g["overdue"], g["warning"], strict=True))
              if as_polygons else [""] * len(g))
    codes = _texts(g["code"])
    state_texts = [labels.get(s, "") for s in g["worst_state"]]
    shapes = _rings(g.geometry) if as_polygons else _points(g.geometry).tolist()
    shape_key = "polygon" if as_polygons else "p"
    shape = ({"get_polygon": "polygon", "filled": True} if as_polygons
             else {"get_position": "p", "radius_min_pixels": 2.5, "get_radius": 25})
    state_index = np.array([STATE_INDEX.get(s, 3) for s in g["worst_state"]], dtype=int)
    overdue_flag = (g["overdue"].to_numpy() > 0).astype(int)
    # One layer per (state, overdue) with constant colours: deck.gl then evaluates no
    # colour or width per grid (10,000 of them at city scale).  Every such layer is sent,
    # empty or not, so that a filter change only gives deck.gl new data for the layers it
    # has, never layers to create.  Rows are plain dicts: pydeck would turn a DataFrame
    # into them, several times slower.
    combinations = [(state, overdue) for state in range(len(STATE_SEVERITY_ORDER)) for overdue in (0, 1)
                    if not (overdue and STATE_SEVERITY_ORDER[state] == CaseState.CLOSED)]
    for state, overdue in combinations:
        chosen = np.flatnonzero((state_index == state) & (overdue_flag == overdue))
        layers.append(pdk.Layer(
            "PolygonLayer" if as_polygons else "ScatterplotLayer",
            id=f"grids-{STATE_SEVERITY_ORDER[state].value}{'-overdue' if overdue else ''}",
            data=[{"c": codes[i], "t": state_texts[i], "d": counts[i], shape_key: shapes[i]} for i in chosen],
            get_fill_color=rgb(STATE_COLOURS[STATE_SEVERITY_ORDER[state]], 120),
            get_line_color=rgb(OVERDUE_OUTLINE) if overdue else [85, 85, 85, 200],
            # A city's grid points are a few pixels apart: a thick ring would hide the fill.
            get_line_width=(4 if as_polygons else 1.5) if overdue else (1 if as_polygons else 0.5),
            line_width_units="'pixels'", stroked=True,
            pickable=True, auto_highlight=True, **shape,
        ))
    if selected_code is not None and (g["code"] == selected_code).any():
        chosen = g[g["code"] == selected_code]
        shape = ({"data": pd.DataFrame({"polygon": _rings(chosen.geometry)}), "get_polygon": "polygon"}
                 if as_polygons else {"data": pd.DataFrame({"p": _points(chosen.geometry).tolist()}),
                                      "get_position": "p", "get_radius": 40, "radius_min_pixels": 7})
        layers.append(pdk.Layer(
            "PolygonLayer" if as_polygons else "ScatterplotLayer", id="selected-grid", filled=False,
            stroked=True, get_line_color=[0, 0, 0, 255], get_line_width=6, line_width_units="'pixels'",
            pickable=False, **shape,
        ))

    if show_heat and g["warning"].sum() > 0:
        warned = g[g["warning"] > 0]
        heat = warning_hexagons(_points(warned.geometry), warned["warning"].to_numpy(), g.total_bounds)
        # Hexagons binned here (flat-topped, as ColumnLayer draws six-sided discs at angle 0):
        # the browser gets a few hundred cells instead of aggregating every grid itself.
        layers.append(pdk.Layer(
            "ColumnLayer", id="warning-hexagons", data=heat.drop(columns="w"), get_position="p",
            radius=float(heat.attrs["radius_m"]), disk_resolution=6, angle=0, coverage=1, extruded=False,
            get_fill_color=_pick("k", HEX_COLOURS), opacity=0.35, pickable=False,
        ))

    if show_hotspots and len(hotspots):
        hot = g[["code", "geometry"]].merge(pd.DataFrame(hotspots).drop(columns="geometry", errors="ignore"), on="code")
        hot = hot[hot["gi_class"].astype(str).str.startswith(("hot", "cold"))]
        classes = list(HOTSPOT_COLOURS)
        hot_class = np.array([classes.index(c) for c in hot["gi_class"].astype(str)], dtype=int)
        if as_polygons and len(hot):
            layers.append(pdk.Layer(
                "PolygonLayer", id="hotspots",
                data=[{"k": int(k), "polygon": ring} for k, ring in zip(hot_class, _rings(hot.geometry), strict=True)],
                get_polygon="polygon",
                filled=False, stroked=True, get_line_color=_pick("k", [list(HOTSPOT_COLOURS[c]) + [255] for c in classes]),
                get_line_width=3, line_width_units="'pixels'", pickable=False,
            ))
        elif not as_polygons:
            positions = _points(hot.geometry).tolist()
            # One layer per class with a constant colour: the same shader inputs as the
            # grid layers, so the browser compiles nothing more for them (every class,
            # empty or not, as for the grids).
            for k, name in enumerate(classes):
                layers.append(pdk.Layer(
                    "ScatterplotLayer", id=f"hotspots-{name}",
                    data=[{"p": positions[i]} for i in np.flatnonzero(hot_class == k)],
                    get_position="p", filled=False, stroked=True,
                    get_line_color=list(HOTSPOT_COLOURS[name]) + [255], get_line_width=2,
                    line_width_units="'pixels'", get_radius=60, radius_min_pixels=6, pickable=False,
                ))

    if show_cases and len(cases):
        c = cases[cases["state"].astype(str) != "closed"]
        c = c.sort_values(["overdue", "created_at"], ascending=[False, False]).head(CASE_POINT_LIMIT)
        if len(c):
            overdue = c["overdue"].astype(bool)
            categories = {k: t(f"category.{k}") for k in c["category"].astype(str).unique()}
            overdue_text = f" · {t('state.overdue')}"
            # A road-occupation finding's stall-zone check follows its category.
            checks = [f" · {t(f'occupation.{v}')}" if isinstance(v, str) else ""
                      for v in (c["occupation"] if "occupation" in c else [None] * len(c))]
            case_rows = pd.DataFrame({
                "c": _texts(c["case_no"]),
                "t": _texts(c["title"]),
                "d": _texts(f"{categories[k]}{check} · {t(f'state.{s}')}" + (overdue_text if o else "")
                              for k, check, s, o in zip(c["category"].astype(str), checks, c["state"].astype(str),
                                                        overdue, strict=True)),
                "s": [STATE_INDEX.get(s, 3) for s in c["state"].astype(str)],
                "o": overdue.astype(int).tolist(),
                "p": np.round(shapely.get_coordinates(c.geometry.values), 5).tolist(),
            })
            layers.append(pdk.Layer(
                "ScatterplotLayer", id="cases", data=case_rows, get_position="p",
                get_fill_color=state_fill(230), get_line_color=f"o?{rgb(OVERDUE_OUTLINE)}:[255,255,255,255]",
                stroked=True, get_line_width=2, line_width_units="'pixels'", get_radius=4,
                radius_min_pixels=3, radius_max_pixels=9, pickable=True,
            ))

    minx, miny, maxx, maxy = grids.total_bounds if len(grids) else (118.6, 24.9, 118.7, 25.0)
    # Fit the district into a map about 560 px across (Web Mercator: 512 px per world at zoom 1).
    lat_scale = 1 / max(np.cos(np.radians((miny + maxy) / 2)), 0.2)
    span = max(maxx - minx, (maxy - miny) * lat_scale, 1e-4)
    zoom = float(np.clip(np.log2(0.9 * 560 * 360 / (512 * span)), 3, 19))
    view = pdk.ViewState(longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=zoom)
    tooltip = {
        "text": "{c}\n{t}\n{d}",
        "style": {"fontSize": "13px", "whiteSpace": "pre-line"},
    }
    # No basemap and no map library: with pydeck's "no style chosen" sentinel and no
    # provider, Streamlit draws deck.gl alone (an explicit style, even a blank local one,
    # starts MapLibre and a second WebGL context; None would fetch a Carto basemap).
    return CompactDeck(layers=layers, initial_view_state=view, map_provider=None, tooltip=tooltip)


def picked_grid(selection_objects: dict) -> str | None:
    """The code of the grid picked on the map (from ``event.selection.objects``), or None."""
    for layer_id, objects in (selection_objects or {}).items():
        if layer_id.startswith("grids") and objects:
            return objects[0].get("c")
    return None


#: The map's paper colour: without a basemap the grids would sit on the page's white.
MAP_BACKGROUND = "#f2efe9"


def deck_background_css() -> str:
    """A style-only snippet for ``st.html`` giving the deck map its own background."""
    return f"<style>[data-testid='stDeckGlJsonChart']{{background:{MAP_BACKGROUND}}}</style>"


def deck_legend_html(language: str) -> str:
    """Legend for the deck map (no user text inside)."""
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
