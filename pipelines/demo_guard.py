"""The demo never touches a real district: what in a database is not the bundled demo.

``linpu demo load`` loads only into an empty database or one holding the demo
and nothing else; anything more (shops, accounts, map features or grids the
demo files do not hold) refuses the load, and the refusal names what it found.
Demo accounts and the demo password therefore exist only in a demo database.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.errors import LinpuError
from governance.models import DistrictFeature, GridGeneration, Shop, User

#: Examples named per kind of foreign record.
EXAMPLES = 3


#: The demo's map layers (pipelines.demo_load stores each); their names are the demo's map features.
DEMO_LAYER_FILES = ("boundary.geojson", "streets.geojson", "stalls.geojson", "service_points.geojson")


class NotADemoDatabase(LinpuError):
    """The database holds a district (or part of one) besides the demo; the demo is not loaded."""


def _demo_names(folder: Path) -> dict[str, set[str]]:
    def column(name: str, field: str) -> set[str]:
        return set(pd.read_csv(folder / name, dtype=str, keep_default_na=False)[field])

    features = set().union(*(gpd.read_file(folder / name)["name"] for name in DEMO_LAYER_FILES))
    return {"shops": column("shops.csv", "shop_id"), "users": column("users.csv", "username"),
            "features": {str(n) for n in features}}


def _foreign(stored: list[str], demo: set[str]) -> list[str]:
    return sorted({s for s in stored if s not in demo})


def foreign_records(session: Session, folder: Path) -> list[str]:
    """What the database holds besides the demo in ``folder``, one phrase per kind (empty: nothing)."""
    demo = _demo_names(folder)
    found = []
    kinds = (
        ("shops", session.scalars(select(Shop.shop_code)).all(), "家商铺", "shops"),
        ("users", session.scalars(select(User.username)).all(), "个账号", "accounts"),
        ("features", [str(n) for n in session.scalars(select(DistrictFeature.name)).all()], "个地图要素",
         "map features"),
    )
    for key, stored, zh, en in kinds:
        other = _foreign(stored, demo[key])
        if other:
            named = ", ".join(other[:EXAMPLES]) + (" …" if len(other) > EXAMPLES else "")
            found.append(f"{len(other)} {zh} / {en} ({named})")
    has_demo_shops = bool(set(session.scalars(select(Shop.shop_code).limit(50)).all()) & demo["shops"])
    generations = session.scalar(select(func.count()).select_from(GridGeneration))
    if generations and not has_demo_shops:
        found.append(f"{generations} 代网格 / grid generations")
    return found


def refuse_unless_demo(session: Session, folder: Path) -> None:
    """Raise :class:`NotADemoDatabase`, naming what was found, unless the database is empty or only the demo."""
    found = foreign_records(session, folder)
    if found:
        raise NotADemoDatabase(
            "数据库中已有演示以外的数据，演示不会载入：" + "；".join(found)
            + "。演示只能载入空数据库或演示数据库（另设 LINPU_DATABASE_URL）/ the database holds more than "
            "the demo, so the demo is not loaded; use an empty database (another LINPU_DATABASE_URL)"
        )


__all__ = ["NotADemoDatabase", "foreign_records", "refuse_unless_demo"]
