"""Synthetic demo district: Yongjia Guochao street block (永嘉国潮街区).

Everything here is invented: the block layout, the shops, the people and the
120 days of patrol findings and hazard checks.  Only the place and its rough
position are real.  The output is a pure function of the seed: one
``numpy.random.default_rng(seed)`` drives every draw, rows are written in a
fixed order and no clock is read, so the committed ``data/demo/`` can be
checked against a fresh run byte for byte.

Geometry is built in a local metric frame (metres east/north of the block
centre), rotated so the street grid is not axis-aligned, placed on
CGCS2000 / GK CM 120E (EPSG:4549) and only converted to WGS84 when written.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from pyproj import Transformer
from shapely.geometry import Polygon

from governance.catalog import CaseState, Role
from governance.sla import is_overdue
from pipelines.demo_after import plan_after_evidence
from pipelines.demo_cases import build_patrol_cases, build_service_requests
from pipelines.demo_checks import build_checks, build_fire_checks
from pipelines.demo_compact import Zone, build_compact
from pipelines.demo_draws import DEMO_DAY, DEMO_NOW, stamp
from pipelines.demo_duplicates import plant_duplicates
from pipelines.demo_layout import Street, build_layout
from pipelines.demo_loop import Case, run_loop
from pipelines.demo_org import ORG_COLUMNS, build_org
from pipelines.demo_people import build_people
from pipelines.demo_public import PUBLIC_COLUMNS, PUBLIC_HISTORY_COLUMNS, build_public
from pipelines.demo_services import (
    SERVICE_COLUMNS,
    SERVICE_HISTORY_COLUMNS,
    SPLIT_COLUMNS,
    SPLIT_HISTORY_COLUMNS,
    SUB_TASK_COLUMNS,
    build_service_orders,
    build_split_cases,
)
from pipelines.demo_shops import SHOPS_PER_GRID, Shop, assign_risk, build_shops
from pipelines.demo_team import (
    DEPARTMENT_COLUMNS,
    USER_COLUMNS,
    account_rows,
    build_departments,
    build_team_accounts,
    members_without_account,
)

DEMO_PASSWORD = "linpu-demo"

ORIGIN_LONLAT = (118.90, 25.12)
METRIC_CRS = "EPSG:4549"
ROTATION_DEG = 14.0

BOUNDARY_PROPERTIES = {
    "name": "永嘉国潮街区",
    "street_office": "山腰街道",
    "district": "泉港区",
    "city": "泉州市",
}

SHOP_COLUMNS = ("shop_id", "name", "trade", "street", "lon", "lat", "party_member_operator", "badges")
MEMBER_COLUMNS = ("grid_index", "member_role", "name", "phone")
CASE_COLUMNS = (
    "case_id", "kind", "category", "severity", "title", "description", "lon", "lat", "shop_id",
    "reporter", "created_at", "due_at", "state", "outcome", "department", "rating", "duplicate_of",
)
HISTORY_COLUMNS = ("case_id", "seq", "at", "actor", "from_state", "to_state", "action", "note", "rating",
                   "after_photo", "no_photo_reason")
CHECK_COLUMNS = (
    "check_id", "shop_id", "category", "performed_at", "inspector", "result", "failed_items", "case_id",
)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

class _Projector:
    """Local block metres → WGS84 lon/lat, through EPSG:4549."""

    def __init__(self) -> None:
        self._to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
        self._to_wgs = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
        self._e0, self._n0 = self._to_metric.transform(*ORIGIN_LONLAT)
        theta = math.radians(ROTATION_DEG)
        self._rot = np.asarray([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])

    def lonlat(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        en = xy @ self._rot.T + (self._e0, self._n0)
        lon, lat = self._to_wgs.transform(en[:, 0], en[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict]) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[c] for c in columns])
            n += 1
    return n


def _write_geojson(path: Path, features: Sequence[dict]) -> None:
    # One feature per line keeps diffs of the committed data readable.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
                    encoding="utf-8")


def _coords(lonlat: np.ndarray) -> list[list[float]]:
    return [[float(lon), float(lat)] for lon, lat in lonlat]


def _fmt(v: float) -> str:
    return f"{v:.7f}"


def _write_layout(out: Path, proj: _Projector, boundary: Polygon, streets: Sequence[Street]) -> None:
    ring = _coords(proj.lonlat(np.asarray(boundary.exterior.coords)))
    _write_geojson(out / "boundary.geojson", [
        {"type": "Feature", "properties": dict(BOUNDARY_PROPERTIES),
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
    ])
    _write_geojson(out / "streets.geojson", [
        {"type": "Feature", "properties": {"name": s.name, "class": s.cls.value},
         "geometry": {"type": "LineString", "coordinates": _coords(proj.lonlat(np.asarray(s.line.coords)))}}
        for s in streets
    ])


def _write_compact(out: Path, proj: _Projector, stalls: Sequence[Zone], points: Sequence[Zone]) -> None:
    _write_geojson(out / "stalls.geojson", [
        {"type": "Feature", "properties": {"name": z.name, "hours": z.hours},
         "geometry": {"type": "Polygon", "coordinates": [_coords(proj.lonlat(np.asarray(z.shape.exterior.coords)))]}}
        for z in stalls
    ])
    _write_geojson(out / "service_points.geojson", [
        {"type": "Feature", "properties": {"name": z.name, "hours": z.hours},
         "geometry": {"type": "Point", "coordinates": _coords(proj.lonlat(np.asarray(z.shape.coords)))[0]}}
        for z in points
    ])


def _shop_rows(proj: _Projector, shops: Sequence[Shop]) -> Iterable[dict]:
    lonlat = proj.lonlat([(s.x, s.y) for s in shops])
    for shop, (lon, lat) in zip(shops, lonlat, strict=True):
        yield {"shop_id": shop.shop_id, "name": shop.name, "trade": shop.trade.value, "street": shop.street,
               "lon": _fmt(lon), "lat": _fmt(lat), "party_member_operator": "true" if shop.party else "false",
               "badges": ";".join(shop.badges)}


def _case_rows(proj: _Projector, cases: Sequence[Case]) -> Iterable[dict]:
    lonlat = proj.lonlat([(c.x, c.y) for c in cases])
    for case, (lon, lat) in zip(cases, lonlat, strict=True):
        yield {"case_id": case.case_id, "kind": case.kind.value, "category": case.category.value,
               "severity": case.severity.value, "title": case.title, "description": case.description,
               "lon": _fmt(lon), "lat": _fmt(lat), "shop_id": case.shop_id, "reporter": case.reporter,
               "created_at": stamp(case.created_at), "due_at": stamp(case.due_at), "state": case.state.value,
               "outcome": case.outcome, "department": case.department, "rating": case.rating,
               "duplicate_of": case.duplicate_of.case_id if case.duplicate_of else ""}


def _history_rows(cases: Sequence[Case]) -> Iterable[dict]:
    for case in cases:
        for seq, (at, actor, src, dst, action, note, rating) in enumerate(case.history, start=1):
            kind, text = case.evidence.get(seq, ("", ""))
            yield {"case_id": case.case_id, "seq": seq, "at": stamp(at), "actor": actor,
                   "from_state": src.value if src else "", "to_state": dst.value, "action": action,
                   "note": note, "rating": "" if rating is None else str(rating),
                   "after_photo": text if kind == "photo" else "", "no_photo_reason": text if kind == "reason" else ""}


def _check_rows(checks: Sequence[dict]) -> Iterable[dict]:
    for i, check in enumerate(checks, start=1):
        yield {"check_id": f"K{i:05d}", "shop_id": check["shop_id"], "category": check["category"].value,
               "performed_at": stamp(check["performed_at"]), "inspector": check["inspector"],
               "result": check["result"], "failed_items": ";".join(check["failed_items"]),
               "case_id": check["case"].case_id if check["case"] else ""}


def _number(cases: list[Case]) -> None:
    """Case ids ``C00001`` … in order of creation."""
    cases.sort(key=lambda c: (c.created_at, c.kind.value, c.shop_id, c.title))
    for i, case in enumerate(cases, start=1):
        case.case_id = f"C{i:05d}"


def _write_orders(out: Path, seed: int, shops: Sequence[Shop], n_grids: int, users: Sequence[dict],
                  roles: dict[str, str]) -> dict[str, int]:
    """The departments, the service orders and the split cases (``demo_team``, ``demo_services``)."""
    services, service_history = build_service_orders(seed, shops, roles)
    splits, split_history, sub_tasks = build_split_cases(n_grids, users, roles)

    def stamped(rows: Iterable[dict]) -> Iterable[dict]:
        return ({**row, "at": stamp(row["at"])} for row in rows)

    return {
        "departments": _write_csv(out / "departments.csv", DEPARTMENT_COLUMNS, build_departments()),
        "services": _write_csv(out / "services.csv", SERVICE_COLUMNS, services),
        "service_history": _write_csv(out / "service_history.csv", SERVICE_HISTORY_COLUMNS, stamped(service_history)),
        "split_cases": _write_csv(out / "split_cases.csv", SPLIT_COLUMNS, splits),
        "split_history": _write_csv(out / "split_history.csv", SPLIT_HISTORY_COLUMNS, stamped(split_history)),
        "sub_tasks": _write_csv(out / "sub_tasks.csv", SUB_TASK_COLUMNS, stamped(sub_tasks)),
    }


def _people(rng, seed: int, n_leaders: int):
    """Accounts (leaders, supervisors, secretaries, members, departments), team rows and the org tree."""
    users, members = build_people(rng, n_leaders)
    org_rows, secretaries = build_org(seed, n_leaders, {u["display_name"] for u in users}
                                      | {m["name"] for m in members})
    leaders = [u["username"] for u in users if u["role"] == Role.GRID_LEADER]
    # Before the secretaries join: cases draw their supervisor from the district-wide ones.
    supervisors = [u["username"] for u in users if u["role"] == Role.SUPERVISOR]
    users = account_rows(users + secretaries, n_leaders)
    team = build_team_accounts(seed, n_leaders, {u["display_name"] for u in users} | {m["name"] for m in members})
    members = members_without_account(members, team, n_leaders)
    return users + team, members, org_rows, leaders, supervisors


def generate_demo(out_dir: Path, *, seed: int = 2026) -> dict:
    """Write the demo district into ``out_dir`` and return row counts per file and state."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    boundary, streets = build_layout(rng)
    shops = build_shops(rng, boundary, streets)
    n_leaders = math.ceil(len(shops) / SHOPS_PER_GRID)
    assign_risk(rng, shops, n_leaders)
    users, members, org_rows, leaders, supervisors = _people(rng, seed, n_leaders)
    roles = {u["username"]: u["role"] for u in users}

    checks, check_cases = build_checks(rng, shops, boundary, leaders)
    cases = (check_cases + build_patrol_cases(rng, shops, streets, boundary, leaders)
             + build_service_requests(rng, shops, boundary, leaders))
    _number(cases)
    for case in cases:
        run_loop(rng, case, supervisors, roles, seed)
    fire_checks, fire_cases = build_fire_checks(seed, shops, boundary, leaders, supervisors, roles)
    cases += plant_duplicates(seed, cases, {s.shop_id: s.name for s in shops}, boundary, supervisors, roles)
    cases += fire_cases
    _number(cases)  # again, with the planted duplicates among them
    fire = {id(c) for c in fire_cases}  # planned last, so the other cases keep the after photos they had
    plan_after_evidence(seed, [c for c in cases if id(c) not in fire] + fire_cases)
    checks = sorted(checks + fire_checks, key=lambda c: (c["performed_at"], c["shop_id"], c["category"].value))
    public, public_history = build_public(seed, shops, supervisors[0], roles)

    proj = _Projector()
    _write_layout(out, proj, boundary, streets)
    stalls, service_points = build_compact(boundary, streets)
    _write_compact(out, proj, stalls, service_points)
    counts = {
        "streets": len(streets),
        "stall_zones": len(stalls),
        "service_points": len(service_points),
        "shops": _write_csv(out / "shops.csv", SHOP_COLUMNS, _shop_rows(proj, shops)),
        "users": _write_csv(out / "users.csv", USER_COLUMNS, users),
        "members": _write_csv(out / "members.csv", MEMBER_COLUMNS, members),
        "org_nodes": _write_csv(out / "org.csv", ORG_COLUMNS, org_rows),
        "cases": _write_csv(out / "cases.csv", CASE_COLUMNS, _case_rows(proj, cases)),
        "case_history": _write_csv(out / "case_history.csv", HISTORY_COLUMNS, _history_rows(cases)),
        "checks": _write_csv(out / "checks.csv", CHECK_COLUMNS, _check_rows(checks)),
        "public_requests": _write_csv(out / "public_requests.csv", PUBLIC_COLUMNS, public),
        "public_history": _write_csv(out / "public_history.csv", PUBLIC_HISTORY_COLUMNS,
                                     ({**row, "at": stamp(row["at"])} for row in public_history)),
        **_write_orders(out, seed, shops, n_leaders, users, roles),
    }
    for state in CaseState:
        counts[f"cases_{state.value}"] = sum(c.state is state for c in cases)
    # The generator keeps no follow-up due time (the load derives it): warnings and work in progress only.
    counts["cases_overdue"] = sum(is_overdue(c.state, c.due_at, None, DEMO_NOW) for c in cases)
    return counts


__all__ = ["DEMO_DAY", "DEMO_NOW", "DEMO_PASSWORD", "generate_demo"]
