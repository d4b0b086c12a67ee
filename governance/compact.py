"""The merchant–resident compact (商居共建自治公约) on the map.

Three district layers (stored by ``governance.district.replace_layer``):
frontage zones (门前三包, one per shop), permitted stall zones with their
hours and service points (the neighbourhood centre, rest stations for
couriers and outdoor workers) with their opening hours. Hours are
OpenStreetMap ``opening_hours`` text, read by the maintained
``opening-hours-py`` parser in the district's local time.

A shop the office has drawn no frontage zone for gets one generated from
its point and the nearest street (``geo.frontage``); an imported zone for a
shop replaces the generated one.

A road-occupation finding is checked against the stall zones when it is
filed (:func:`occupation_checks`), and the answer is stored on the case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from opening_hours import OpeningHours, ParserError
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.frontage import frontage_zones
from geo.nearby import distances_m
from governance.catalog import OccupationCheck
from governance.clock import clock, district_zone
from governance.grids import current_grids
from governance.models import DistrictFeature, Shop
from governance.queries import open_shops
from governance.rows import geo_frame_of
from governance.settings import get_settings
from governance.spatial import ewkb
from governance.viewer import Viewer

#: The kinds of ``DistrictFeature`` the compact adds (see ``governance.district.LAYER_KINDS``).
COMPACT_KINDS = ("frontage", "stall", "service_point")
ZONE_COLUMNS = ["kind", "name", "hours", "shop_code", "generated"]


def parse_hours(text: str) -> OpeningHours:
    """The parsed ``opening_hours`` text; ValueError with the parser's reason when it is not valid.

    Examples
    --------
    >>> is_open("Mo-Su 18:00-23:00", datetime(2026, 7, 1, 12, 0))
    False
    """
    try:
        return OpeningHours(text)
    except (ParserError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"not OpenStreetMap opening_hours ({first}); e.g. 'Mo-Su 18:00-23:00'") from None


def known_shop_codes(session: Session, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` name a shop of the register (open or closed)."""
    wanted = sorted(set(codes))
    found: set[str] = set()
    for start in range(0, len(wanted), 1000):  # bounded IN lists on both databases
        found |= set(session.scalars(select(Shop.shop_code).where(Shop.shop_code.in_(wanted[start:start + 1000]))))
    return found


def is_open(hours: str | None, at: datetime, *, timezone: str | None = None) -> bool:
    """Whether ``hours`` (no hours: always) are open at ``at`` (aware; naive is local time)."""
    if not hours:
        return True
    zone = ZoneInfo(timezone) if timezone else district_zone()
    local = at.astimezone(zone).replace(tzinfo=None) if at.tzinfo else at
    return bool(parse_hours(hours).is_open(local))


def _stored(session: Session, kinds: Sequence[str]) -> gpd.GeoDataFrame:
    rows = session.execute(
        select(DistrictFeature.kind, DistrictFeature.name, DistrictFeature.hours, DistrictFeature.shop_code,
               ewkb(DistrictFeature.geometry))
        .where(DistrictFeature.kind.in_(list(kinds)))
        .order_by(DistrictFeature.id)
    ).all()
    frame = geo_frame_of(rows, ["kind", "name", "hours", "shop_code"])
    for column in ("hours", "shop_code"):  # missing is None, not NaN: both are text where present
        frame[column] = pd.Series([None if pd.isna(v) else v for v in frame[column]], index=frame.index,
                                  dtype=object)
    frame["generated"] = False
    return frame


def _streets(session: Session) -> gpd.GeoDataFrame:
    rows = session.execute(
        select(ewkb(DistrictFeature.geometry)).where(DistrictFeature.kind == "street")
    ).all()
    return geo_frame_of(rows, [])


def compact_layer(session: Session, viewer: Viewer) -> gpd.GeoDataFrame:
    """The compact's zones and service points a viewer's maps draw (WGS84).

    Columns ``kind`` (frontage, stall, service_point), ``name``, ``hours``,
    ``shop_code``, ``generated`` (a frontage zone made from the shop's point
    and nearest street, for a shop with no imported zone). A viewer limited
    to some grids gets the frontage of their open shops and the stall zones
    and service points touching their grids.
    """
    stored = _stored(session, COMPACT_KINDS)
    shops = open_shops(session, viewer)
    imported = set(stored.loc[stored["kind"] == "frontage", "shop_code"].dropna())
    missing = shops[~shops["shop_code"].isin(imported)]
    if len(missing):
        settings = get_settings()
        made = frontage_zones(
            gpd.GeoDataFrame(missing[["shop_code", "name"]], geometry=missing.geometry.values, crs=4326),
            _streets(session), depth_m=settings.frontage_depth_m, width_m=settings.frontage_width_m,
        ).assign(kind="frontage", hours=None, generated=True)
        stored = pd.concat([stored, made[["kind", "name", "hours", "shop_code", "generated", "geometry"]]],
                           ignore_index=True)
        stored = gpd.GeoDataFrame(stored, geometry="geometry", crs=4326)
    if viewer.is_district_wide:
        return stored.reset_index(drop=True)
    area = shapely.union_all(current_grids(session, viewer).geometry.values)
    own_frontage = (stored["kind"] == "frontage") & stored["shop_code"].isin(set(shops["shop_code"]))
    touching = (stored["kind"] != "frontage") & stored.geometry.intersects(area)
    return stored[own_frontage | touching].reset_index(drop=True)


def occupation_checks(session: Session, lon, lat, at: Sequence[datetime]) -> list[OccupationCheck]:
    """Each point's standing against the stored stall zones at its time.

    ``permitted`` inside a zone open then (a zone with no hours is always
    open), ``outside_hours`` inside zones none of which is open then,
    ``outside_zone`` inside none. With no stall zone stored every point is
    outside any zone: the compact then permits no stall.
    """
    zones = _stored(session, ("stall",))
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    at = list(at)
    # One zones x points matrix: a file of many findings is checked in one pass, not point by point.
    inside = shapely.covers(np.asarray(zones.geometry.values, dtype=object)[:, None], points[None, :])
    open_then = np.zeros(len(points), dtype=bool)
    zone = district_zone()
    for row, hours in zip(inside, zones["hours"], strict=True):
        if hours is None:
            open_then |= row
            continue
        parsed = parse_hours(hours)
        for i in np.flatnonzero(row & ~open_then):
            open_then[i] = parsed.is_open(at[i].astimezone(zone).replace(tzinfo=None))
    in_any = inside.any(axis=0) if len(zones) else np.zeros(len(points), dtype=bool)
    return [OccupationCheck.PERMITTED if o else OccupationCheck.OUTSIDE_HOURS if z else OccupationCheck.OUTSIDE_ZONE
            for z, o in zip(in_any, open_then, strict=True)]


@dataclass(frozen=True)
class ServicePoint:
    """A service point near a place: what the public pages show."""

    name: str
    hours: str | None
    lon: float
    lat: float
    distance_m: float
    open_now: bool


def nearest_service_points(session: Session, lon: float, lat: float, *, limit: int = 3,
                           now: datetime | None = None) -> list[ServicePoint]:
    """The ``limit`` service points nearest to (lon, lat) in WGS84, nearest first.

    Each with its name, opening hours (OSM syntax, None: not stated),
    position, straight-line distance in metres and whether it is open at
    ``now`` (default: the clock). Public: names and hours only, nothing
    personal. An empty list when the district has none.
    """
    points = _stored(session, ("service_point",))
    if points.empty or limit <= 0:
        return []
    points = points.assign(geometry=points.geometry.representative_point())
    metres = distances_m(points, shapely.Point(lon, lat), origin_crs=4326).to_numpy()
    order = np.argsort(metres, kind="stable")[:limit]
    moment = clock(now)
    return [
        ServicePoint(name=str(points["name"].iloc[i]), hours=points["hours"].iloc[i] or None,
                     lon=float(points.geometry.iloc[i].x), lat=float(points.geometry.iloc[i].y),
                     distance_m=float(metres[i]), open_now=is_open(points["hours"].iloc[i], moment))
        for i in order
    ]
