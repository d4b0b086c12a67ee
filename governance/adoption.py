"""Adopting a new grid generation: the one path the CLI, the analyst's page and the demo load share.

The new grids are saved and made current in one transaction; shops are
reassigned, cases follow their shop or their point (each move a ``regrid``
history row), grid members carry over by code, and the kept figures and
checks due are recomputed for the new grids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from geo.placement import place_points
from governance import admin_log
from governance.admin_log import shell_actor
from governance.check_due import refresh_check_due
from governance.errors import ValidationError
from governance.figures import refresh_grid_stats
from governance.grids import current_generation
from governance.models import Case, CaseHistory, Grid, GridGeneration, GridMember, Shop


@dataclass
class AdoptionResult:
    generation_id: int
    grids: int
    shops_reassigned: int
    cases_moved: int
    members_carried: int
    members_dropped: list[tuple[str, str]] = field(default_factory=list)  # (old grid code, name)
    #: Shops whose grid code is not the one they had (every shop gets a new grid row; few change grid).
    shops_changed_grid: int = 0


def adopt_generation(
    session: Session,
    grids_gdf: gpd.GeoDataFrame,
    shop_codes: Mapping[str, str] | pd.Series,
    *,
    method: str,
    params: Mapping[str, Any],
    quality: Mapping[str, Any],
    note: str = "",
    now: datetime | None = None,
    actor: str | None = None,
) -> AdoptionResult:
    """Save a new grid generation, make it current and move everything into it.

    Parameters
    ----------
    grids_gdf : GeoDataFrame with ``code``, ``n_shops``, optional ``is_building``
        (or ``building``, as the gridding engine names it) and ``name``, polygons with a CRS (converted to WGS84).
    shop_codes : shop code -> grid code of the new grids (e.g. the
        ``grid_code`` column of ``build_grids``' shops, indexed by shop code).
        Shops not listed are placed by their point; a shop in no new grid
        keeps no grid.
    method, params, quality : stored on the generation, as ``linpu grids`` reports them.

    Open and closed cases move to the new grid that holds their point (or
    their shop's new grid); each move writes a ``regrid`` history row naming
    the old and new grid codes and bumps the case version.  A case whose point
    lies in no new grid goes to the nearest one and the history row says how
    far it is.  Grid members are carried over to the new grid with the same
    code; members of codes that no longer exist are returned as dropped.

    Raises ValidationError for an empty layer, duplicate codes, an unknown
    grid code in ``shop_codes`` or a missing CRS; the database is unchanged.
    """
    now = now or datetime.now(UTC)
    grids_gdf, mapping = _checked(grids_gdf, shop_codes)
    old = current_generation(session)
    generation, new_ids = _save_generation(session, grids_gdf, method=method, params=params, quality=quality,
                                           note=note, now=now)
    frame = grids_gdf[["code", "geometry"]].copy()
    shop_grid, changed = _reassign_shops(session, frame, mapping, new_ids)
    moved = _move_cases(session, frame, shop_grid, new_ids, generation_id=generation.id, now=now)
    carried, dropped = _carry_members(session, old, new_ids)
    session.expire_all()
    refresh_grid_stats(session, new_ids.values())
    refresh_check_due(session)
    admin_log.record(session, actor=actor or shell_actor(), action="grids_replaced",
                     target=f"generation {generation.id} ({method})", rows=len(new_ids), detail=note, now=now)
    return AdoptionResult(
        generation_id=generation.id, grids=len(new_ids), shops_reassigned=len(shop_grid),
        cases_moved=moved, members_carried=carried, members_dropped=dropped, shops_changed_grid=changed,
    )


def _checked(grids_gdf: gpd.GeoDataFrame, shop_codes) -> tuple[gpd.GeoDataFrame, dict]:
    """The layer in WGS84 and the shop mapping, or ValidationError before anything is written."""
    if grids_gdf.crs is None:
        raise ValidationError("grids: the layer has no CRS; give one (e.g. EPSG:4326)")
    if len(grids_gdf) == 0:
        raise ValidationError("grids: the layer is empty; nothing to adopt")
    if "code" not in grids_gdf:
        raise ValidationError(f"grids: no 'code' column (found {list(grids_gdf.columns)})")
    grids_gdf = grids_gdf.to_crs(4326).reset_index(drop=True)
    duplicated = grids_gdf["code"][grids_gdf["code"].duplicated()].unique().tolist()
    if duplicated:
        raise ValidationError(f"grids: duplicate codes {duplicated[:10]}; every grid needs its own code")
    mapping = dict(shop_codes.items())
    unknown = sorted(set(mapping.values()) - set(grids_gdf["code"]) - {None})
    unknown = [c for c in unknown if not pd.isna(c)]
    if unknown:
        raise ValidationError(f"shop_codes: grid codes {unknown[:10]} are not in the grids layer")
    return grids_gdf, mapping


def _save_generation(session: Session, grids_gdf: gpd.GeoDataFrame, *, method: str, params, quality,
                     note: str, now: datetime) -> tuple[GridGeneration, dict[str, int]]:
    """The new generation and its grids, made current; returns it and code -> new grid id."""
    session.execute(update(GridGeneration).where(GridGeneration.is_current.is_(True)).values(is_current=False))
    session.flush()
    generation = GridGeneration(
        method=method, params=dict(params), quality=_jsonable(quality), is_current=True, note=note, created_at=now
    )
    session.add(generation)
    session.flush()
    # The gridding engine marks a mall in ``building``; imported layers say ``is_building``.
    flags = grids_gdf.get("is_building", grids_gdf.get("building", pd.Series(False, index=grids_gdf.index)))
    records = [
        {
            "generation_id": generation.id,
            "code": str(row["code"]),
            "name": str(row.get("name", "") or ""),
            "n_shops": int(row.get("n_shops", 0) or 0),
            "is_building": bool(flag),
            "geometry": row.geometry,
        }
        for (_, row), flag in zip(grids_gdf.iterrows(), flags.fillna(False), strict=True)
    ]
    session.execute(insert(Grid), records)
    new_ids = dict(session.execute(select(Grid.code, Grid.id).where(Grid.generation_id == generation.id)).all())
    return generation, new_ids


def _reassign_shops(session: Session, frame: gpd.GeoDataFrame, mapping: dict,
                    new_ids: dict[str, int]) -> tuple[dict[int, int | None], int]:
    """Shops into the new grids: listed ones by the given code, the rest by their point;
    and how many of them now lie in a grid of another code than before (or gained or lost one)."""
    shops = session.execute(select(Shop.id, Shop.shop_code, Shop.geometry, Shop.grid_id)).all()
    shop_grid: dict[int, int | None] = {}
    unplaced = []
    for shop_id, shop_code, geometry, _ in shops:
        code = mapping.get(shop_code)
        if code is not None and not pd.isna(code):
            shop_grid[shop_id] = new_ids[code]
        else:
            unplaced.append((shop_id, geometry))
    if unplaced:
        placed = place_points(gpd.GeoSeries([g for _, g in unplaced], crs=4326), frame)
        for (shop_id, _), code in zip(unplaced, placed["code"], strict=True):
            shop_grid[shop_id] = None if pd.isna(code) else new_ids[code]
    old_codes = dict(session.execute(select(Grid.id, Grid.code).where(
        Grid.id.in_({grid_id for *_, grid_id in shops if grid_id is not None}))).all())
    new_codes = {grid_id: code for code, grid_id in new_ids.items()}
    changed = sum(1 for shop_id, _, _, old in shops
                  if old_codes.get(old) != new_codes.get(shop_grid[shop_id]))
    if shop_grid:
        session.execute(
            update(Shop.__table__).where(Shop.__table__.c.id == bindparam("sid")),
            [{"sid": sid, "grid_id": gid} for sid, gid in shop_grid.items()],
        )
    return shop_grid, changed


def _move_cases(session: Session, frame: gpd.GeoDataFrame, shop_grid: dict[int, int | None],
                new_ids: dict[str, int], *, generation_id: int, now: datetime) -> int:
    """Every case into a new grid (its shop's, else its point's, else the nearest), each move a
    ``regrid`` history row; returns how many moved."""
    code_by_id = {gid: code for code, gid in new_ids.items()}
    old_codes = dict(session.execute(select(Grid.id, Grid.code)).all())
    cases = session.execute(
        select(Case.id, Case.grid_id, Case.shop_id, Case.geometry, Case.state, Case.version)
    ).all()
    if not cases:
        return 0
    placed = place_points(gpd.GeoSeries([c.geometry for c in cases], crs=4326), frame)
    outside = np.flatnonzero(placed["code"].isna().to_numpy())
    nearest = dict(zip(outside, _nearest_codes(frame, [cases[i].geometry for i in outside]), strict=True))
    case_updates, history_rows = [], []
    for i, (case_row, code, distance) in enumerate(zip(cases, placed["code"], placed["distance_m"], strict=True)):
        note_extra = ""
        if case_row.shop_id is not None and shop_grid.get(case_row.shop_id) is not None:
            target = shop_grid[case_row.shop_id]
        elif pd.isna(code):
            target = new_ids[nearest[i]]
            note_extra = f"; its point lies in no new grid, the nearest is {distance:,.0f} m away"
        else:
            target = new_ids[code]
        new_version = case_row.version + 1
        case_updates.append({"cid": case_row.id, "grid_id": target, "version": new_version})
        history_rows.append({
            "case_id": case_row.id, "seq": new_version, "at": now, "actor_id": None, "action": "regrid",
            "from_state": case_row.state, "to_state": case_row.state,
            "note": f"grids rebuilt (generation {generation_id}): moved from grid "
            f"{old_codes.get(case_row.grid_id, '?')} to {code_by_id[target]}{note_extra}",
            "details": {"from_grid": old_codes.get(case_row.grid_id), "to_grid": code_by_id[target],
                        "generation_id": generation_id},
        })
    for start in range(0, len(case_updates), 5000):
        session.execute(
            update(Case.__table__).where(Case.__table__.c.id == bindparam("cid")),
            case_updates[start : start + 5000],
        )
        session.execute(insert(CaseHistory), history_rows[start : start + 5000])
    return len(case_updates)


def _carry_members(session: Session, old: GridGeneration | None,
                   new_ids: dict[str, int]) -> tuple[int, list[tuple[str, str]]]:
    """Grid members carried over to the new grid of the same code; (carried, dropped (code, name))."""
    if old is None:
        return 0, []
    members = session.execute(
        select(GridMember, Grid.code).join(Grid, Grid.id == GridMember.grid_id).where(Grid.generation_id == old.id)
    ).all()
    rows, dropped = [], []
    for member, code in members:
        if code in new_ids:
            rows.append({"grid_id": new_ids[code], "user_id": member.user_id, "role": member.role,
                         "name": member.name, "phone": member.phone})
        else:
            dropped.append((code, member.name))
    if rows:
        session.execute(insert(GridMember), rows)
    return len(rows), dropped


def _nearest_codes(frame: gpd.GeoDataFrame, points: list) -> list[str]:
    if not points:
        return []
    metric = frame.estimate_utm_crs()
    metric_grids = frame.to_crs(metric)
    metric_points = gpd.GeoSeries(points, crs=4326).to_crs(metric)
    _, grid_idx = metric_grids.sindex.nearest(metric_points.values, return_all=False)
    return metric_grids["code"].to_numpy()[grid_idx].tolist()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=float))
