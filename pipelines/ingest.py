"""Ingest shop registers, patrol findings and hazard checks from user files.

The same functions serve ``linpu ingest …`` and the dashboard's upload: they
take the file's bytes (or a local path), never print, and return an
:class:`IngestReport`. Every row is validated before anything is written; a
file with any refused row is refused whole (nothing written) unless
``skip_invalid``, which writes the valid rows and hands back the refused
ones, with the reason, as a CSV. ``dry_run`` validates and counts without
writing.

Shop ids
--------
A shop's id is its ``shop_id`` column (also ``shop_code``, ``编号``,
``商户编号`` …). When the file has no id column, the id is derived from the
shop's name and its WGS84 position rounded to 5 decimals (about 1 m):
``H`` + the first 10 hex digits of SHA-1 of ``name|lon|lat``. The same file
therefore always gives the same ids, but a shop that moves or is renamed in
an id-less file becomes a new shop (the old one is closed); give an id column
to keep history across moves.

The shop register is the whole list: re-ingesting the same file changes
nothing; shops missing from a newer file are closed (``closed_at`` set; never
deleted), shops that return are reopened. ``close_missing=False``
(``--partial``) only adds and updates; a run that would close more than a
tenth of the open shops is refused unless ``close_missing=True``
(``--close-missing``) confirms it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, LargeBinary, String, func, insert, select, type_coerce, update
from sqlalchemy.orm import Session

from governance import admin_log
from governance.admin_log import shell_actor
from governance.catalog import Badge
from governance.db import transaction
from governance.grids import current_generation_id, current_grid_frame, place_in_current_grids
from governance.models import DistrictFeature, Grid, Shop, ShopBadge
from pipelines.ingest_report import IngestReport
from pipelines.readers import Problem, RawTable, read_bytes, read_path
from pipelines.register_guard import closing_refusal
from pipelines.shop_words import SHOP_WORDS, shop_words, unknown_words_note, words_of
from pipelines.validation import (
    District,
    Rows,
    booleans,
    locate,
    no_nul_bytes,
    require_columns,
    required_text,
    swap_note,
    text,
)

Progress = Callable[[str, int, int], None]

SHOP_COLUMNS = {
    "shop_id": ("shop_id", "shop_code", "shop_no", "id", "code", "编号", "商户编号", "店铺编号",
                "门店编号", "商户代码"),
    "name": ("name", "shop_name", "名称", "店名", "商户名称", "店铺名称", "门店名称", "商户名"),
    "trade": ("trade", "industry", "type", "行业", "业态", "经营类别", "类型", "行业类别", "经营范围", "高德分类"),
    "uses_gas": ("uses_gas", "gas", "用气", "是否用气", "使用燃气", "燃气"),
    "address": ("address", "地址", "详细地址", "经营地址", "经营场所"),
    "phone": ("phone", "contact_phone", "tel", "联系电话", "电话", "手机", "联系方式"),
    "street": ("street", "road", "街道", "所在街道", "路名", "道路", "所在道路"),
    "party_member_operator": ("party_member_operator", "party_memb", "party_member", "党员经营户", "是否党员经营户",
                              "党员"),
    "badges": ("badges", "badge", "标识", "荣誉", "称号"),
}

BADGE_ALIASES = {
    "党员经营户": "party_member_operator", "示范户": "model_shop", "放心店": "trusted_shop",
    "先锋商户": "pioneer",
}
#: Rounding of positions for derived ids and same-place duplicates (~1 m).
ID_DECIMALS = 5
#: A stored shop counts as moved when its point changes by more than this (~1 cm).
MOVE_DEGREES = 1e-7
_CHUNK = 900  # below SQLite's bound-parameter limit


def load_table(source: bytes | Path, name: str | None = None) -> RawTable:
    """Read bytes (an upload, ``name`` giving its file name) or a local path."""
    if isinstance(source, bytes | bytearray | memoryview):
        if not name:
            raise TypeError("reading bytes needs the file name (for its type and messages)")
        return read_bytes(bytes(source), name)
    if isinstance(source, Path):
        return read_path(source)
    raise TypeError("give the file as bytes or a pathlib.Path, not a string")


def _rejected_frame(table: RawTable, problems: list[Problem]) -> pd.DataFrame:
    reasons: dict[int, list[str]] = {}
    for p in sorted(problems, key=lambda p: p.row):
        reasons.setdefault(p.row, []).append(f"{p.field}: {p.message}")
    rows = sorted(reasons)
    frame = table.frame.loc[rows].copy()
    if table.geometry is not None:
        frame["geometry_wkt"] = [g.wkt if g is not None else "" for g in table.geometry.loc[rows]]
    frame.insert(0, "row", rows)
    frame["reason"] = ["; ".join(reasons[r]) for r in rows]
    return frame.reset_index(drop=True)


def finish_report(report: IngestReport, table: RawTable, rows: Rows) -> IngestReport:
    """The report of a validated file: its problems, a note on swapped coordinates, the refused rows."""
    report.problems = rows.problems
    report.notes.extend(table.notes)
    note = swap_note(rows.problems, len(table.frame))
    if note:
        report.notes.append(note)
    if rows.problems:
        report.rejected = _rejected_frame(table, rows.problems)
    return report


def district_of(session: Session) -> District | None:
    """The stored district boundary, else the current grids' outline, else None."""
    boundary = session.scalars(select(DistrictFeature.geometry).where(DistrictFeature.kind == "boundary")).all()
    if boundary:
        return District(shapely.union_all(boundary), "district boundary")
    grids = current_grid_frame(session)
    if len(grids):
        return District(shapely.union_all(grids.geometry.values), "current grids")
    return None


def derived_shop_id(name: str, lon: float, lat: float) -> str:
    key = f"{name}|{lon:.{ID_DECIMALS}f}|{lat:.{ID_DECIMALS}f}".encode()
    return "H" + hashlib.sha1(key).hexdigest()[:10].upper()


def _place_key(names: pd.Series, lon: np.ndarray, lat: np.ndarray) -> pd.Series:
    return names.astype(str) + "|" + pd.Series(np.round(lon, ID_DECIMALS), index=names.index).astype(str) \
        + "|" + pd.Series(np.round(lat, ID_DECIMALS), index=names.index).astype(str)


def ingest_shops(
    engine: Engine,
    source: bytes | Path,
    *,
    name: str | None = None,
    crs: str | None = None,
    coords: str = "wgs84",
    dry_run: bool = False,
    skip_invalid: bool = False,
    close_missing: bool | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
) -> IngestReport:
    """Validate a shop register and bring the stored shops in line with it.

    Parameters
    ----------
    engine : the database.
    source : the file's bytes (with ``name``) or a local :class:`~pathlib.Path`.
    crs : CRS of the input coordinates when they are not EPSG:4326 (e.g. ``EPSG:4549``).
    coords : ``wgs84``, ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu) longitude/latitude.
    dry_run : validate and count, write nothing.
    skip_invalid : write the valid rows even when some are refused.
    close_missing : close stored open shops that the file does not list: ``None`` (the default)
        closes them unless that is more than a tenth of the open shops (and more than five), which
        refuses the file (:mod:`pipelines.register_guard`); ``True`` confirms the closing;
        ``False`` (``--partial``) adds and updates only.
    now : the time stamped on opened and closed shops (default: the clock).

    Returns
    -------
    IngestReport with counts ``opened``, ``reopened``, ``updated``, ``closed``,
    ``unchanged``, ``without_grid``, ``badges_awarded``, ``badges_revoked``.

    Examples
    --------
    >>> report = ingest_shops(engine, Path("shops.csv"), dry_run=True)  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    'shops.csv: 350 rows, 350 valid, 0 refused; would write: 0 opened, ...'
    """
    now = now or datetime.now(UTC)
    tick = progress or (lambda *_: None)
    table = load_table(source, name)
    tick("validate", 0, len(table.frame))
    columns = require_columns(table, SHOP_COLUMNS, ["name"])
    rows = Rows(table.source, table.frame.index, list(table.problems))
    report = IngestReport("shops", table.source, len(table.frame), dry_run=dry_run, skip_invalid=skip_invalid)
    fields = _register_fields(rows, table.frame, columns)

    with transaction(engine) as session:
        return _apply_register(session, table, rows, columns, fields, report, _RegisterRun(
            crs=crs, coords=coords, dry_run=dry_run, close_missing=close_missing, now=now, tick=tick, actor=actor))


@dataclass(frozen=True)
class _RegisterRun:
    """How ``ingest_shops`` was asked to apply the register."""

    crs: str | None
    coords: str
    dry_run: bool
    close_missing: bool | None
    now: datetime
    tick: Progress
    actor: str | None


def _apply_register(session: Session, table: RawTable, rows: Rows, columns: dict[str, str], fields: dict,
                    report: IngestReport, run: _RegisterRun) -> IngestReport:
    """The register's checks against the database, its plan, its refusals and its writes."""
    district = district_of(session)
    located = locate(rows, table, crs=run.crs, coords=run.coords, district=district)
    report.notes.extend(located.notes)
    if district is None:
        report.notes.append("no district boundary or grids stored: points were not checked against the district")
    ids = _register_ids(rows, table.frame, columns, fields["name"], located, report)
    stored = _stored_shops(session)
    run.tick("validate", len(table.frame), len(table.frame))
    _duplicates_against_db(rows, ids, _place_key(fields["name"], located.lon, located.lat), stored, located.lon)
    report = finish_report(report, table, rows)
    if report.refused:
        return report
    good = rows.good_mask()
    incoming = pd.DataFrame({
        "shop_code": ids[good].to_numpy(), "name": fields["name"][good].to_numpy(),
        **{k: v[good].to_numpy() for k, v in fields["words"].items()}, "street": fields["street"][good].to_numpy(),
        "party_member_operator": fields["party"][good], "lon": located.lon[good], "lat": located.lat[good],
    })
    badges = fields["badges"]
    incoming_badges = [badges[i] for i in np.flatnonzero(good)] if badges is not None else None
    plan = _plan_shops(incoming, stored, seen_ids=set(ids[ids != ""]), close_missing=run.close_missing is not False)
    placed = _register_counts(session, report, plan, incoming)
    badge_plan = _plan_badges(session, incoming, incoming_badges) if incoming_badges is not None else ([], [])
    report.counts["badges_awarded"] = len(badge_plan[0])
    report.counts["badges_revoked"] = len(badge_plan[1])
    if run.close_missing is None:
        report.refusal = closing_refusal(len(plan.closing), int((~stored.frame["closed"]).sum()))
    if run.dry_run or report.refusal:
        return report
    _write_shops(session, plan, placed, badge_plan, now=run.now, tick=run.tick, source=table.source)
    changed = sum(report.counts[k] for k in ("opened", "reopened", "updated", "closed"))
    admin_log.record(session, actor=run.actor or shell_actor(), action="register_applied", target=table.source,
                     rows=changed, detail=", ".join(f"{k} {v}" for k, v in report.counts.items()))
    report.written = True
    return report


def _register_fields(rows: Rows, frame: pd.DataFrame, columns: dict[str, str]) -> dict:
    """The register's columns that need no database: name, the office's words, street, 党员, badges."""
    fields = {
        "name": required_text(rows, text(frame, columns["name"]), "name", max_length=255),
        "words": shop_words(rows, frame, columns),
        "street": text(frame, columns.get("street")),
        "party": (booleans(rows, text(frame, columns["party_member_operator"]), "party_member_operator")
                  if "party_member_operator" in columns else np.zeros(len(frame), dtype=bool)),
        "badges": _badge_sets(rows, frame, columns.get("badges")),
    }
    no_nul_bytes(rows, frame, columns)
    return fields


def _register_ids(rows: Rows, frame: pd.DataFrame, columns: dict[str, str], names: pd.Series, located,
                  report: IngestReport) -> pd.Series:
    """Each row's shop id: its id column, or derived from name and place; repeats refused."""
    lon, lat = located.lon, located.lat
    if "shop_id" in columns:
        ids = text(frame, columns["shop_id"])
        for row in ids.index[ids == ""]:
            rows.add(row, "shop_id", "is empty; every shop needs an id (or leave the column out "
                     "to derive ids from name and place)")
        for row in ids.index[ids.str.len() > 64]:
            rows.add(row, "shop_id", "longer than 64 characters")
    else:
        ok = np.isfinite(lon) & np.isfinite(lat)
        ids = pd.Series(
            [derived_shop_id(n, x, y) if good else "" for n, x, y, good in zip(names, lon, lat, ok, strict=True)],
            index=frame.index, dtype=object,
        )
        report.notes.append("no shop_id column: ids derived from name and position "
                            "(H + hash); a moved or renamed shop becomes a new shop")
    refuse_duplicates_in_file(rows, ids, "shop_id")
    if "shop_id" in columns:
        _same_place_duplicates(rows, _place_key(names, lon, lat), ids, np.isfinite(lon))
    return ids


def _register_counts(session: Session, report: IngestReport, plan: _ShopPlan, incoming: pd.DataFrame) -> pd.DataFrame:
    """Place the shops that need a grid and count the plan into the report; the placements."""
    grids = current_grid_frame(session)
    placed = _place(session, plan.needs_grid, grids)
    found = plan.gridless["shop_code"].map(placed["grid_id"]).notna().to_numpy()
    if found.any():  # a grid now holds them: their grid is the update
        plan.changed = pd.concat([plan.changed, plan.gridless[found]])
        plan.unchanged -= int(found.sum())
    report.counts = {
        "opened": len(plan.new),
        "reopened": len(plan.reopened),
        "updated": len(plan.changed),
        "closed": len(plan.closing),
        "unchanged": plan.unchanged,
        "without_grid": int(placed["grid_id"].isna().sum()) if len(placed) else 0,
        "without_trade": int(incoming["trade"].isna().sum()),
    }
    report.notes.extend(unknown_words_note(incoming))
    if report.counts["without_grid"]:
        report.notes.append(
            f"{report.counts['without_grid']} shops stored without a grid: "
            + ("no grids yet; run `linpu grids save`" if grids.empty else "they lie in no current grid")
        )
    return placed


def _badge_sets(rows: Rows, frame: pd.DataFrame, column: str | None) -> list[frozenset[str]] | None:
    if column is None:
        return None
    allowed = {b.value for b in Badge}
    lookup = {**{b: b for b in allowed}, **BADGE_ALIASES}
    result = []
    for row, value in frame[column].items():
        parts = [p.strip() for p in str(value).replace("、", ";").replace("，", ";").replace(",", ";").split(";")]
        chosen = set()
        for part in filter(None, parts):
            code = lookup.get(part) or lookup.get(part.lower())
            if code is None:
                rows.add(row, "badges", f"unknown badge {part!r}; allowed: {', '.join(sorted(allowed))}")
            else:
                chosen.add(code)
        result.append(frozenset(chosen))
    return result


def refuse_duplicates_in_file(rows: Rows, ids: pd.Series, field_name: str) -> None:
    """Refuse every row whose ``field_name`` value another row of the file repeats (blanks aside)."""
    present = ids[ids != ""]
    repeated = present[present.duplicated(keep=False)]
    for value, group in repeated.groupby(repeated, sort=False):
        where = [int(r) for r in group.index]
        for row in where:
            others = ", ".join(str(o) for o in where if o != row)
            rows.add(row, field_name, f"{value!r} is repeated on row {others}")


def _same_place_duplicates(rows: Rows, key: pd.Series, ids: pd.Series, located: np.ndarray) -> None:
    candidates = key[located]
    repeated = candidates[candidates.duplicated(keep=False)]
    for _, group in repeated.groupby(repeated, sort=False):
        where = [int(r) for r in group.index]
        if ids.loc[where].nunique() < 2:
            continue
        for row in where[1:]:
            rows.add(row, "name", f"the same shop (same name within 1 m) as row {where[0]} under "
                     f"another id")


@dataclass
class _Stored:
    frame: pd.DataFrame  # id, shop_code, name, trade, street, party_member_operator, lon, lat, grid_id, closed

    def __post_init__(self):
        self.by_code = dict(zip(self.frame["shop_code"], self.frame.index, strict=True))
        open_ = self.frame[~self.frame["closed"]]
        self.open_places = dict(zip(
            _place_key(open_["name"], open_["lon"].to_numpy(), open_["lat"].to_numpy()),
            open_["shop_code"], strict=True,
        ))


def raw_wkb(session: Session, column):
    """A geometry column as EWKB bytes, skipping the per-row shapely decoding of the ORM type.

    Decoding 100,000 points one by one costs seconds; ``shapely.from_wkb``
    on the whole array costs milliseconds.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.ST_AsEWKB(column, type_=LargeBinary)
    return type_coerce(column, LargeBinary)


def _stored_shops(session: Session) -> _Stored:
    rows = session.execute(
        select(Shop.id, Shop.shop_code, Shop.name, type_coerce(Shop.trade, String), Shop.trade_label,
               Shop.uses_gas, Shop.address, Shop.phone, Shop.street,
               Shop.party_member_operator, raw_wkb(session, Shop.geometry), Shop.grid_id, Shop.closed_at)
    ).all()
    frame = pd.DataFrame(rows, columns=["id", "shop_code", "name", *SHOP_WORDS, "street",
                                        "party_member_operator", "geometry", "grid_id", "closed_at"])
    frame[list(SHOP_WORDS)] = frame[list(SHOP_WORDS)].astype(object)
    wkb = np.asarray([bytes(v) for v in frame["geometry"]], dtype=object)
    xy = shapely.get_coordinates(shapely.from_wkb(wkb)) if len(frame) else np.zeros((0, 2))
    frame["lon"], frame["lat"] = xy[:, 0], xy[:, 1]
    frame["closed"] = frame["closed_at"].notna()
    frame = frame.drop(columns=["geometry", "closed_at"])
    return _Stored(frame)


def _duplicates_against_db(rows: Rows, ids: pd.Series, key: pd.Series, stored: _Stored, lon) -> None:
    located = np.isfinite(lon)
    # Plain lists: per-row pandas indexing costs more than the whole check.
    for row, shop_id, place, ok in zip(ids.index.tolist(), ids.tolist(), key.tolist(), located.tolist(),
                                       strict=True):
        if not ok:
            continue
        other = stored.open_places.get(place)
        row = int(row)
        if other is not None and other != shop_id and shop_id not in stored.by_code:
            rows.add(row, "shop_id", f"{shop_id!r} duplicates stored shop {other!r} (same name "
                     "within 1 m); use that id")


@dataclass
class _ShopPlan:
    new: pd.DataFrame
    reopened: pd.DataFrame
    changed: pd.DataFrame
    closing: list[int]
    unchanged: int
    needs_grid: pd.DataFrame  # shop_code, lon, lat of new, reopened, moved and gridless shops
    gridless: pd.DataFrame  # unchanged shops that had no grid


def _as_text(values: pd.Series) -> np.ndarray:
    """Values as text for comparing a file with the store, every missing value ('', None, NaN) alike."""
    return np.asarray(["" if pd.isna(v) else str(v) for v in values], dtype=object)


def _plan_shops(incoming: pd.DataFrame, stored: _Stored, *, seen_ids: set[str], close_missing: bool) -> _ShopPlan:
    known = incoming["shop_code"].map(stored.by_code)
    is_new = known.isna().to_numpy()
    new = incoming[is_new]
    old = incoming[~is_new].copy()
    # ``known`` holds positions in the stored frame, not database ids.
    before = stored.frame.loc[known[~is_new].astype(int).to_numpy()].set_index(old.index)
    old["id"] = before["id"].to_numpy()
    was_closed = before["closed"].to_numpy()
    moved = ((np.abs(old["lon"].to_numpy() - before["lon"].to_numpy()) > MOVE_DEGREES)
             | (np.abs(old["lat"].to_numpy() - before["lat"].to_numpy()) > MOVE_DEGREES))
    differs = moved.copy()
    for column in ("name", *SHOP_WORDS, "street"):
        differs |= _as_text(old[column]) != _as_text(before[column])
    differs |= old["party_member_operator"].astype(bool).to_numpy() != before["party_member_operator"].astype(bool).to_numpy()
    reopened = old[was_closed].assign(moved=moved[was_closed])
    changed = old[~was_closed & differs].assign(moved=moved[~was_closed & differs])
    unchanged = int((~was_closed & ~differs).sum())
    # An unchanged shop still without a grid gets another try; it counts as
    # updated only if a grid now contains it (see ingest_shops).
    gridless = old[~was_closed & ~differs & before["grid_id"].isna().to_numpy()].assign(moved=False)
    closing = []
    if close_missing:
        open_stored = stored.frame[~stored.frame["closed"]]
        closing = open_stored.loc[~open_stored["shop_code"].isin(seen_ids), "id"].astype(int).tolist()
    regrid = pd.concat([
        new[["shop_code", "lon", "lat"]],
        reopened[["shop_code", "lon", "lat"]],
        changed.loc[changed["moved"] | before.loc[changed.index, "grid_id"].isna(), ["shop_code", "lon", "lat"]],
        gridless[["shop_code", "lon", "lat"]],
    ])
    return _ShopPlan(new, reopened, changed, closing, unchanged, regrid, gridless)


def _place(session: Session, needs_grid: pd.DataFrame, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """Grid id of each shop needing one: the current grid containing it, else None."""
    if needs_grid.empty:
        return pd.DataFrame({"grid_id": pd.Series(dtype=object)}, index=pd.Index([], name="shop_code"))
    if grids.empty:
        ids = [None] * len(needs_grid)
    else:
        placed = place_in_current_grids(session, needs_grid["lon"].to_numpy(), needs_grid["lat"].to_numpy())
        ids = [None if gid < 0 else int(gid) for gid in placed.grid_ids]
    return pd.DataFrame({"grid_id": ids}, index=pd.Index(needs_grid["shop_code"].to_numpy(), name="shop_code"))


def _plan_badges(session: Session, incoming: pd.DataFrame, wanted: list[frozenset[str]]):
    active = session.execute(
        select(ShopBadge.id, Shop.shop_code, ShopBadge.badge)
        .join(Shop, Shop.id == ShopBadge.shop_id).where(ShopBadge.revoked_at.is_(None))
    ).all()
    have: dict[str, dict[str, int]] = {}
    for badge_id, code, badge in active:
        have.setdefault(code, {})[str(getattr(badge, "value", badge))] = badge_id
    award, revoke = [], []
    for code, badges in zip(incoming["shop_code"], wanted, strict=True):
        current = have.get(code, {})
        award += [(code, b) for b in sorted(badges - set(current))]
        revoke += [current[b] for b in sorted(set(current) - badges)]
    return award, revoke


def _chunks(items: list, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _write_shops(session: Session, plan: _ShopPlan, placed: pd.DataFrame, badge_plan, *, now, tick, source) -> None:
    grid_of = placed["grid_id"].to_dict()

    def point(lon, lat):
        return shapely.Point(float(lon), float(lat))

    inserts = [
        {"shop_code": r.shop_code, "name": r.name, **words_of(r), "street": r.street,
         "party_member_operator": bool(r.party_member_operator), "geometry": point(r.lon, r.lat),
         "grid_id": grid_of.get(r.shop_code), "opened_at": now, "closed_at": None}
        for r in plan.new.itertuples()
    ]
    updates = []
    for frame, reopen in ((plan.reopened, True), (plan.changed, False)):
        for r in frame.itertuples():
            values = {"id": int(r.id), "name": r.name, **words_of(r), "street": r.street,
                      "party_member_operator": bool(r.party_member_operator),
                      "geometry": point(r.lon, r.lat)}
            if r.shop_code in grid_of:
                values["grid_id"] = grid_of[r.shop_code]
            if reopen:
                values["closed_at"] = None
            updates.append(values)
    total = len(inserts) + len(updates) + len(plan.closing)
    done = 0
    for chunk in _chunks(inserts):
        session.execute(insert(Shop), chunk)
        done += len(chunk)
        tick("write", done, total)
    # Bulk UPDATE by primary key needs the same keys in every dict.
    for keys in {tuple(sorted(u)) for u in updates}:
        same = [u for u in updates if tuple(sorted(u)) == keys]
        for chunk in _chunks(same):
            session.execute(update(Shop), chunk)
            done += len(chunk)
            tick("write", done, total)
    for chunk in _chunks(plan.closing, _CHUNK):
        session.execute(update(Shop).where(Shop.id.in_(chunk)).values(closed_at=now))
        done += len(chunk)
        tick("write", done, total)
    award, revoke = badge_plan
    if award:
        codes_ = sorted({code for code, _ in award})
        ids = {}
        for chunk in _chunks(codes_, _CHUNK):
            ids.update(session.execute(select(Shop.shop_code, Shop.id).where(Shop.shop_code.in_(chunk))).all())
        session.execute(insert(ShopBadge), [{"shop_id": ids[c], "badge": b, "awarded_at": now} for c, b in award])
    for chunk in _chunks(revoke, _CHUNK):
        session.execute(update(ShopBadge).where(ShopBadge.id.in_(chunk)).values(
            revoked_at=now, revoked_reason=f"not listed in the register {source}"))
    refresh_grid_counts(session)


def refresh_grid_counts(session: Session) -> None:
    """Set ``n_shops`` of the current grids to their open shops."""
    generation = current_generation_id(session)
    if generation is None:
        return
    counts = dict(session.execute(
        select(Shop.grid_id, func.count()).join(Grid, Grid.id == Shop.grid_id)
        .where(Grid.generation_id == generation, Shop.closed_at.is_(None)).group_by(Shop.grid_id)
    ).all())
    grids = session.execute(select(Grid.id, Grid.n_shops).where(Grid.generation_id == generation)).all()
    changes = [{"id": gid, "n_shops": counts.get(gid, 0)} for gid, n in grids if counts.get(gid, 0) != n]
    if changes:
        session.execute(update(Grid), changes)


def write_rejected(report: IngestReport, path: Path) -> Path:
    """Write the refused rows CSV next to the input (CLI helper)."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(report.rejected_csv())
    tmp.replace(path)
    return path


__all__ = ["IngestReport", "derived_shop_id", "ingest_shops", "load_table", "write_rejected"]
