"""The district's stored map layers: its boundary, its streets, and the compact's zones and service points.

One district per database. A layer is replaced as a whole, inside the
caller's transaction, so a refused import leaves the old layer in place.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance.catalog import StreetClass
from governance.models import DistrictFeature

#: Layer name on the command line -> ``DistrictFeature.kind``.
LAYER_KINDS = {"boundary": "boundary", "streets": "street", "frontage": "frontage", "stalls": "stall",
               "service_points": "service_point"}


def replace_layer(session: Session, layer: str, frame: gpd.GeoDataFrame) -> int:
    """Replace the stored ``layer`` (a key of ``LAYER_KINDS``) by the rows of ``frame``.

    ``frame`` is in EPSG:4326 with a ``name`` column and, for streets, a
    ``class`` column (main, street, lane); stall zones and service points may
    have ``hours`` (OSM opening_hours, checked by the caller), frontage zones
    a ``shop_code``. Returns the number of rows written.
    """
    kind = LAYER_KINDS[layer]
    session.execute(delete(DistrictFeature).where(DistrictFeature.kind == kind))
    blank = [None] * len(frame)
    names = frame.get("name", blank)
    classes = frame["class"] if kind == "street" else blank
    hours = frame.get("hours", blank)
    shops = frame.get("shop_code", blank)
    for name, street_class, when, shop, geometry in zip(names, classes, hours, shops, frame.geometry.values,
                                                        strict=True):
        session.add(DistrictFeature(
            kind=kind, name=str(name or "")[:128], geometry=geometry,
            street_class=StreetClass(street_class) if street_class is not None else None,
            hours=_text_or_none(when), shop_code=_text_or_none(shop),
        ))
    session.flush()
    return len(frame)


def _text_or_none(value) -> str | None:
    return None if value is None or pd.isna(value) else (str(value).strip() or None)


def stored_boundary(session: Session) -> shapely.Geometry | None:
    """The union of the stored boundary polygons (EPSG:4326), or None when there is none."""
    boundary, _ = stored_layers(session)
    return None if boundary is None else shapely.union_all(boundary.geometry.values)


def stored_layers(session: Session) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """Boundary and streets as gridding takes them: (``boundary``, ``streets`` with ``class``).

    Each is None when that layer is not stored, so that gridding falls back
    to the shops' hull and quality reports say "n/a" for main roads.
    """
    rows = session.execute(
        select(DistrictFeature.kind, DistrictFeature.name, DistrictFeature.street_class,
               DistrictFeature.geometry).order_by(DistrictFeature.id)
    ).all()
    boundary = [(name, geometry) for kind, name, _, geometry in rows if kind == "boundary"]
    streets = [(name, str(getattr(cls, "value", cls)), geometry)
               for kind, name, cls, geometry in rows if kind == "street" and cls is not None]
    return (
        gpd.GeoDataFrame({"name": [n for n, _ in boundary]}, geometry=[g for _, g in boundary], crs=4326)
        if boundary else None,
        gpd.GeoDataFrame({"name": [n for n, _, _ in streets], "class": [c for _, c, _ in streets]},
                         geometry=[g for _, _, g in streets], crs=4326)
        if streets else None,
    )
