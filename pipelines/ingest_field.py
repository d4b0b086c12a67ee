"""Ingest field exports: patrol findings (cases) and hazard checks.

Rows are validated as a whole file first (the same rules and report as the
shop register), then filed through the governance layer: in batches
(:func:`governance.filing.file_cases` and
:func:`~governance.filing.record_checks`, the batch forms of
:func:`governance.workflow.file_case` and
:func:`~governance.workflow.record_check`: vectorised placement, bulk inserts
in chunks). The
governance layer places each point in its current grid, sets the deadline and
writes the history, all in one transaction: any failure leaves the database
as it was. The row's own timestamp is the filing time (``now=``), so historical
exports keep their dates.

Decisions where the practice leaves a choice:

- **Who files.** The import is a batch job: rows are filed by the system
  account (district-wide), so a report made before the grids were redrawn
  is not refused for lying outside its reporter's current grid. A
  ``reporter`` / ``inspector`` naming a stored user is kept as the case's
  reporter / the check's inspector; other names are counted in the report.
- **State.** A field export is a list of findings: every case starts as a
  warning, whatever a ``state`` column says (the loop is then worked in the
  app). The report says when such a column was ignored.
- **Duplicates.** A case is the same finding when its category, time (to the
  second) and place (5 decimals, ~1 m) agree; a check when its shop,
  category and time agree. Both are refused within the file and against the
  database, so re-sending an export is refused row by row (``--skip-invalid``
  adds only the new rows).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, String, select, type_coerce

from governance.catalog import CHECK_CATEGORIES, CaseKind, Category, Severity
from governance.checklists import checklist_for
from governance.db import transaction
from governance.errors import LinpuError
from governance.filing import file_cases, record_checks
from governance.grids import current_grid_frame, place_in_current_grids
from governance.models import Case, HazardCheck, Shop, User
from governance.permissions import system_viewer
from governance.settings import get_settings
from governance.words import accepted, file_words
from pipelines.ingest import (
    ID_DECIMALS,
    Progress,
    district_of,
    finish_report,
    load_table,
    raw_wkb,
    refuse_duplicates_in_file,
)
from pipelines.ingest_report import IngestReport
from pipelines.readers import InputFileError
from pipelines.validation import (
    Rows,
    codes,
    find_column,
    locate,
    no_nul_bytes,
    optional_text,
    require_columns,
    required_text,
    text,
    times,
)

# The words of the UI (governance.words) and a few synonyms: 一般 is low here as on the page.
CATEGORY_ALIASES = file_words("category")
KIND_ALIASES = file_words("kind")
SEVERITY_ALIASES = file_words("severity")

CASE_COLUMNS = {
    "case_id": ("case_id", "case_no", "id", "编号", "案件编号", "事件编号"),
    "kind": ("kind", "类型", "来源", "案件类型"),
    "category": ("category", "类别", "问题类别", "隐患类别"),
    "severity": ("severity", "level", "等级", "严重程度", "级别"),
    "title": ("title", "标题", "问题", "问题描述标题"),
    "description": ("description", "描述", "详情", "问题描述", "备注"),
    "shop_id": ("shop_id", "shop_code", "商户编号", "店铺编号"),
    "reporter": ("reporter", "上报人", "巡查人", "username"),
    "created_at": ("created_at", "time", "datetime", "reported_at", "时间", "上报时间", "发现时间"),
    "department": ("department", "部门", "承办部门"),
    "requester": ("requester", "点单人", "诉求人"),
}
CHECK_COLUMNS = {
    "check_id": ("check_id", "check_no", "id", "编号", "检查编号"),
    "shop_id": ("shop_id", "shop_code", "商户编号", "店铺编号"),
    "category": ("category", "类别", "检查类别", "隐患类别"),
    "performed_at": ("performed_at", "checked_at", "time", "datetime", "检查时间", "时间"),
    "inspector": ("inspector", "检查人", "reporter", "username"),
    "result": ("result", "结果", "检查结果"),
    "failed_items": ("failed_items", "failed", "不合格项", "未通过项"),
    "note": ("note", "备注", "说明"),
}
PASS_WORDS = {"pass": True, "passed": True, "ok": True, "合格": True, "通过": True,
              "fail": False, "failed": False, "不合格": False, "未通过": False}


def _key_time(stamps: pd.Series) -> pd.Series:
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object).where(stamps.notna(), "")


def _user_ids(session, names: pd.Series) -> dict[str, int]:
    wanted = [n for n in names.unique() if n]
    if not wanted:
        return {}
    return dict(session.execute(select(User.username, User.id).where(User.username.in_(wanted))).all())


def ingest_cases(
    engine: Engine,
    source: bytes | Path,
    *,
    name: str | None = None,
    crs: str | None = None,
    coords: str = "wgs84",
    dry_run: bool = False,
    skip_invalid: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    # Long: validation of every column before one batch write; issue 25's streaming ingest splits it.
    """Validate a field export of findings and file every valid row as a case.

    Columns: ``category``, ``title``, ``created_at`` and a place (lon/lat,
    a geometry, or a ``shop_id`` whose position is used) are required;
    ``kind`` (default ``patrol``), ``severity`` (default ``medium``),
    ``description``, ``shop_id``, ``reporter``, ``department``,
    ``requester`` and ``case_id`` (only to find repeats) are optional.

    Returns an :class:`~pipelines.ingest.IngestReport` with counts ``filed``
    and ``unknown_reporters``.
    """
    now = now or datetime.now(UTC)
    tick = progress or (lambda *_: None)
    table = load_table(source, name)
    columns = require_columns(table, CASE_COLUMNS, ["category", "title", "created_at"])
    frame = table.frame
    rows = Rows(table.source, frame.index, list(table.problems))
    report = IngestReport("cases", table.source, len(frame), dry_run=dry_run, skip_invalid=skip_invalid)
    tick("validate", 0, len(frame))

    kinds = codes(rows, text(frame, columns.get("kind")), "kind", [k.value for k in CaseKind], KIND_ALIASES,
                  shown=accepted("kind", [k.value for k in CaseKind]),
                  default="patrol")
    categories = codes(rows, text(frame, columns["category"]), "category", [c.value for c in Category],
                       CATEGORY_ALIASES, shown=accepted("category", [c.value for c in Category]))
    severities = codes(rows, text(frame, columns.get("severity")), "severity", [s.value for s in Severity],
                       SEVERITY_ALIASES, default="medium", shown=accepted("severity", [s.value for s in Severity]))
    if "severity" not in columns:
        report.notes.append("no severity column: every case filed as medium")
    titles = required_text(rows, text(frame, columns["title"]), "title", max_length=255)
    created = times(rows, text(frame, columns["created_at"]), "created_at", now=now)
    shop_ids = text(frame, columns.get("shop_id"))
    reporters = text(frame, columns.get("reporter"))
    descriptions = text(frame, columns.get("description"))
    departments = optional_text(rows, text(frame, columns.get("department")), "department", max_length=128)
    requesters = optional_text(rows, text(frame, columns.get("requester")), "requester", max_length=128)
    no_nul_bytes(rows, frame, columns)
    if find_column(table, ("state", "状态")):
        report.notes.append("the state column is ignored: ingested findings start as warnings")

    with transaction(engine) as session:
        shops = dict(session.execute(select(Shop.shop_code, Shop.geometry)).all()) if (shop_ids != "").any() else {}
        for row, code in shop_ids.items():
            if code and code not in shops:
                rows.add(row, "shop_id", f"{code!r} is not a stored shop; ingest the shop register first")
        has_place = find_column(table, ("lon", "lng", "经度", "x", "longitude")) is not None or table.geometry is not None
        need_place = (shop_ids == "").to_numpy() | (shop_ids.map(lambda c: c not in shops)).to_numpy()
        if has_place:
            located = locate(rows, table, crs=crs, coords=coords, district=district_of(session),
                             required=need_place)
            lon, lat = located.lon, located.lat
            report.notes.extend(located.notes)
        elif not (shop_ids != "").any():
            raise InputFileError(table.source, 1, "lon", "missing place: no lon/lat columns, no geometry "
                                 "and no shop_id")
        else:
            lon, lat = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
            for i, row in enumerate(frame.index):
                if need_place[i] and not shop_ids[row]:
                    rows.add(row, "lon", "no place: give lon/lat or a shop_id")
        # A row with a shop but no coordinates lies at its shop.
        for i, code in enumerate(shop_ids):
            if code in shops and not np.isfinite(lon[i]):
                lon[i], lat[i] = shops[code].x, shops[code].y

        grids = current_grid_frame(session)
        if grids.empty:
            raise InputFileError(table.source, 1, "(grids)", "there are no grids yet: cases are filed into "
                                 "grids; run `linpu grids save` or load the demo first")
        grid_ids, distance = _grid_ids(session, lon, lat)
        snap_m = get_settings().snap_to_grid_m
        for i in np.flatnonzero(np.isfinite(lon) & pd.isna(grid_ids)):
            row = frame.index[i]
            if row not in rows.bad_rows:
                rows.add(row, "lon", f"({lon[i]:.6f}, {lat[i]:.6f}) lies in no current grid: "
                         f"{distance[i]:,.1f} m outside the nearest, farther than LINPU_SNAP_TO_GRID_M "
                         f"({snap_m:g} m)")
        user_ids = _user_ids(session, reporters)

        keys = categories.astype(str) + "|" + _key_time(created) + "|" \
            + pd.Series(np.round(lon, ID_DECIMALS), index=frame.index).astype(str) + "|" \
            + pd.Series(np.round(lat, ID_DECIMALS), index=frame.index).astype(str)
        if "case_id" in columns:
            refuse_duplicates_in_file(rows, text(frame, columns["case_id"]), "case_id")
        refuse_duplicates_in_file(rows, keys.where(~created.isna() & np.isfinite(lon), ""), "created_at")
        stored = _stored_case_keys(session, created)
        for row, key in keys.items():
            if key in stored:
                rows.add(row, "created_at", f"the same finding (category, time and place) is stored as "
                         f"case {stored[key]}")
        tick("validate", len(frame), len(frame))
        report = finish_report(report, table, rows)
        if report.refused:
            return report
        good = np.flatnonzero(rows.good_mask())
        good_reporters = reporters.to_numpy()[good]
        unknown = int(sum(1 for name in good_reporters if name and name not in user_ids))
        report.counts = {"filed": len(good), "unknown_reporters": unknown}
        if dry_run:
            return report
        filed = file_cases_of(session, table.source, frame.index[good], pd.DataFrame({
            "kind": kinds.to_numpy()[good], "category": categories.to_numpy()[good],
            "severity": severities.to_numpy()[good], "title": titles.to_numpy()[good],
            "description": descriptions.to_numpy()[good], "lon": lon[good], "lat": lat[good],
            "shop_code": shop_ids.to_numpy()[good], "department": departments.to_numpy()[good],
            "requester": requesters.to_numpy()[good], "created_at": created.iloc[good].reset_index(drop=True),
            # Who found it; the history row says who imported (the system account).
            "reporter_id": pd.Series([user_ids.get(name) for name in good_reporters], dtype=object),
        }), tick)
        tick("file", len(filed), len(good))
        report.written = True
    return report


def file_cases_of(session, source: str, file_rows: pd.Index, batch: pd.DataFrame, tick: Progress):
    """File validated rows in one batch (:func:`governance.filing.file_cases`) as the system account.

    A row the governance layer still refuses aborts the whole file, naming its row.
    """
    try:
        return file_cases(session, system_viewer(), batch, progress=lambda done, total: tick("file", done, total))
    except LinpuError as exc:  # validated above; anything left aborts the whole file
        position = getattr(exc, "position", None)
        row = int(file_rows[position]) if position is not None else 1
        raise InputFileError(source, row, "(row)", f"{exc}; nothing was written") from None


def _grid_ids(session, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid id of each point with coordinates as a finding is placed (None outside every grid
    beyond the snap distance, or without a point), and its distance in metres to the nearest grid."""
    out = np.full(len(lon), None, dtype=object)
    distance = np.zeros(len(lon))
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any():
        placed = place_in_current_grids(session, lon[ok], lat[ok], snap_m=get_settings().snap_to_grid_m)
        out[ok] = np.where(placed.outside, None, placed.grid_ids.astype(object))
        distance[ok] = placed.distance_m
    return out, distance


def _stored_case_keys(session, created: pd.Series) -> dict[str, str]:
    present = created.dropna()
    if present.empty:
        return {}
    rows = session.execute(
        select(Case.case_no, type_coerce(Case.category, String), Case.created_at, raw_wkb(session, Case.geometry))
        .where(Case.created_at >= present.min().to_pydatetime(), Case.created_at <= present.max().to_pydatetime())
    ).all()
    if not rows:
        return {}
    frame = pd.DataFrame(rows, columns=["case_no", "category", "at", "wkb"])
    xy = shapely.get_coordinates(shapely.from_wkb(np.asarray([bytes(v) for v in frame["wkb"]], dtype=object)))
    stamps = pd.to_datetime(frame["at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S")
    keys = (frame["category"].astype(str) + "|" + stamps + "|"
            + pd.Series(np.round(xy[:, 0], ID_DECIMALS)).astype(str) + "|"
            + pd.Series(np.round(xy[:, 1], ID_DECIMALS)).astype(str))
    return dict(zip(keys.tolist(), frame["case_no"].tolist(), strict=True))


def ingest_checks(
    engine: Engine,
    source: bytes | Path,
    *,
    name: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    # Long: validation of every column before one batch write; issue 25's streaming ingest splits it.
    """Validate a field export of hazard checks and record every valid row.

    Columns: ``shop_id``, ``category`` (a check category), ``performed_at``
    are required; ``failed_items`` (``;``-separated checklist item codes, empty
    for a pass), ``result`` (pass/fail, checked against the failed items),
    ``inspector``, ``note`` and ``check_id`` (only to find repeats) are
    optional. A failed check raises a hazard_check case through the workflow.

    Returns an :class:`~pipelines.ingest.IngestReport` with counts ``recorded``,
    ``failed`` and ``cases_raised``.
    """
    now = now or datetime.now(UTC)
    tick = progress or (lambda *_: None)
    table = load_table(source, name)
    columns = require_columns(table, CHECK_COLUMNS, ["shop_id", "category", "performed_at"])
    frame = table.frame
    rows = Rows(table.source, frame.index, list(table.problems))
    report = IngestReport("checks", table.source, len(frame), dry_run=dry_run, skip_invalid=skip_invalid)
    shop_ids = required_text(rows, text(frame, columns["shop_id"]), "shop_id", max_length=64)
    categories = codes(rows, text(frame, columns["category"]), "category",
                       [c.value for c in CHECK_CATEGORIES], CATEGORY_ALIASES,
                       shown=accepted("category", [c.value for c in CHECK_CATEGORIES]))
    performed = times(rows, text(frame, columns["performed_at"]), "performed_at", now=now)
    inspectors = text(frame, columns.get("inspector"))
    notes = text(frame, columns.get("note"))
    no_nul_bytes(rows, frame, columns)
    answers: list[dict[str, bool] | None] = []
    failed_text = text(frame, columns.get("failed_items"))
    results = text(frame, columns.get("result")).str.lower()
    for row, category, failed, result in zip(frame.index, categories, failed_text, results, strict=True):
        if pd.isna(category):
            answers.append(None)
            continue
        items = [item.code for item in checklist_for(category)]
        chosen = [f.strip() for f in str(failed).replace("，", ";").replace(",", ";").split(";") if f.strip()]
        unknown = [c for c in chosen if c not in items]
        if unknown:
            rows.add(row, "failed_items", f"unknown item {unknown[0]!r} for {category}; items: {', '.join(items)}")
            answers.append(None)
            continue
        if result and result not in PASS_WORDS:
            rows.add(row, "result", f"{result!r} is not pass/fail (合格/不合格)")
        elif result and PASS_WORDS[result] == bool(chosen):
            rows.add(row, "result", f"says {result!r} but failed_items lists {len(chosen)} item(s)")
        answers.append({code: code not in chosen for code in items})

    with transaction(engine) as session:
        shops = dict(session.execute(select(Shop.shop_code, Shop.grid_id)).all())
        for row, code in shop_ids.items():
            if code and code not in shops:
                rows.add(row, "shop_id", f"{code!r} is not a stored shop; ingest the shop register first")
            elif code and shops[code] is None:
                rows.add(row, "shop_id", f"shop {code!r} lies in no grid; save grids first")
        user_ids = _user_ids(session, inspectors)
        keys = shop_ids + "|" + categories.astype(str) + "|" + _key_time(performed)
        if "check_id" in columns:
            refuse_duplicates_in_file(rows, text(frame, columns["check_id"]), "check_id")
        refuse_duplicates_in_file(rows, keys.where(~performed.isna(), ""), "performed_at")
        stored = _stored_check_keys(session, performed)
        for row, key in keys.items():
            if key in stored:
                rows.add(row, "performed_at", f"the same check (shop, category, time) is stored as {stored[key]}")
        report = finish_report(report, table, rows)
        if report.refused:
            return report
        good = np.flatnonzero(rows.good_mask())
        report.counts = {"recorded": len(good), "failed": 0, "cases_raised": 0}
        failing = sum(1 for i in good if not all(answers[i].values()))
        report.counts.update(failed=failing, cases_raised=failing)
        if dry_run:
            return report
        batch = pd.DataFrame({
            "shop_code": shop_ids.to_numpy()[good], "category": categories.to_numpy()[good],
            "answers": [answers[i] for i in good], "note": notes.to_numpy()[good],
            "performed_at": performed.iloc[good].reset_index(drop=True),
            "inspector_id": pd.Series([user_ids.get(name) for name in inspectors.to_numpy()[good]], dtype=object),
        })
        try:
            record_checks(session, system_viewer(), batch, progress=lambda done, total: tick("record", done, total))
        except LinpuError as exc:
            position = getattr(exc, "position", None)
            row = int(frame.index[good[position]]) if position is not None else 1
            raise InputFileError(table.source, row, "(row)", f"{exc}; nothing was written") from None
        tick("record", len(good), len(good))
        report.written = True
    return report


def _stored_check_keys(session, performed: pd.Series) -> dict[str, str]:
    present = performed.dropna()
    if present.empty:
        return {}
    rows = session.execute(
        select(HazardCheck.check_no, Shop.shop_code, HazardCheck.category, HazardCheck.performed_at)
        .join(Shop, Shop.id == HazardCheck.shop_id)
        .where(HazardCheck.performed_at >= present.min().to_pydatetime(),
               HazardCheck.performed_at <= present.max().to_pydatetime())
    ).all()
    return {
        f"{code}|{getattr(category, 'value', category)}|"
        f"{pd.Timestamp(at).tz_convert(UTC).strftime('%Y-%m-%dT%H:%M:%S')}": check_no
        for check_no, code, category, at in rows
    }
