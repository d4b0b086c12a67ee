"""The leader's day's walk: the Today list's stops with their places, and the list in walking order.

Pure (tested without Streamlit): ``walk_stops`` gives each Today card that
has a place (a case's point, a check's shop) as a stop; ``in_walking_order``
numbers the cards by the route ``geo.walk`` found.  The route starts at the
first card, the most urgent; cards without a place follow, unnumbered.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd


def walk_stops(items: list[dict], cases: gpd.GeoDataFrame, shops: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One point per card that has a place (WGS84), with ``item`` (its position in ``items``) and ``title``."""
    case_points = dict(zip(cases["case_no"], cases.geometry, strict=True)) if len(cases) else {}
    shop_points = dict(zip(shops["shop_code"], shops.geometry, strict=True)) if len(shops) else {}
    rows = []
    for position, item in enumerate(items):
        point = case_points.get(item["case_no"]) if item["kind"] == "case" else shop_points.get(item["shop_code"])
        if point is not None and not point.is_empty:
            rows.append({"item": position, "title": item["title"], "geometry": point})
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=["item", "title", "geometry"]), geometry="geometry",
                            crs=cases.crs or shops.crs or 4326)


def in_walking_order(items: list[dict], stops: gpd.GeoDataFrame) -> list[dict]:
    """The cards numbered in walking order (``stop``: 1, 2, …), those without a place last."""
    walked = [items[i] | {"stop": n} for n, i in enumerate(stops["item"], start=1)]
    rest = [item for position, item in enumerate(items) if position not in set(stops["item"])]
    return walked + rest
