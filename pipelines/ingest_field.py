"""Ingest field exports: patrol findings (cases) and hazard checks.

The file streams through in chunks (:mod:`pipelines.stream`): each chunk's
rows are validated (the same rules and report as the shop register), and
its good rows filed through the governance layer at once
(:class:`governance.filing.CaseFiler` and
:class:`~governance.filing.CheckRecorder`, the batch forms of
:func:`governance.workflow.file_case` and
:func:`~governance.workflow.record_check`: vectorised placement, loads through
COPY or one prepared statement). The
governance layer places each point in its current grid, sets the deadline and
writes the history, all in the ingest's one transaction: any failure, or a
refused row anywhere in the file, leaves the database as it was. The row's own timestamp is the filing time (``now=``), so historical
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

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, String, func, select, type_coerce
from sqlalchemy.orm import Session

from governance.catalog import CHECK_CATEGORIES, CaseKind, Category, Severity
from governance.checklists import checklist_for
from governance.errors import LinpuError
from governance.filing import CaseFiler
from governance.filing_checks import CheckRecorder
from governance.grids import current_grid_frame, place_in_current_grids
from governance.models import Case, HazardCheck, Shop, User
from governance.permissions import system_viewer
from governance.settings import get_settings
from governance.words import accepted, file_words
from pipelines.ingest import ID_DECIMALS, Progress, district_of, raw_wkb
from pipelines.ingest_report import IngestReport
from pipelines.readers import CHUNK_ROWS, InputFileError, RawTable, read_chunks
from pipelines.stream import Repeats, run
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


PLACE_NAMES = ("lon", "lng", "经度", "x", "longitude")


def _key_time(stamps: pd.Series) -> pd.Series:
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object).where(stamps.notna(), "")


class _Users:
    """Stored user ids by name, looked up as the names turn up chunk by chunk."""

    def __init__(self) -> None:
        self.known: dict[str, int] = {}
        self.asked: set[str] = set()

    def ids(self, session: Session, names: pd.Series) -> dict[str, int]:
        wanted = [n for n in names.unique() if n and n not in self.asked]
        for start in range(0, len(wanted), 5000):
            part = wanted[start : start + 5000]
            self.known.update(session.execute(select(User.username, User.id).where(User.username.in_(part))).all())
        self.asked.update(wanted)
        return self.known


def _good_rows(rows: Rows) -> np.ndarray:
    return rows.index.to_numpy(dtype=np.int64)[rows.good_mask()]


def _filed_row(source: str, good_rows: np.ndarray, exc: LinpuError) -> InputFileError:
    """A row the governance layer still refuses aborts the whole file, naming its row."""
    position = getattr(exc, "position", None)
    row = int(good_rows[position]) if position is not None else 1
    return InputFileError(source, row, "(row)", f"{exc}; nothing was written")


@dataclass
class _CaseRows:
    """One chunk of findings as parsed by the worker."""

    kinds: pd.Series
    categories: pd.Series
    severities: pd.Series
    titles: pd.Series
    created: pd.Series
    shop_ids: pd.Series
    reporters: pd.Series
    descriptions: pd.Series
    departments: pd.Series
    requesters: pd.Series
    lon: np.ndarray
    lat: np.ndarray
    keys: pd.Series
    good: np.ndarray | None = None
    user_ids: dict[str, int] | None = None


class _CaseIngest:
    """``linpu ingest cases`` as a :class:`pipelines.stream.Job`."""

    def __init__(self, *, crs: str | None, coords: str, now: datetime):
        self.crs, self.coords, self.now = crs, coords, now
        self.users = _Users()
        self.unknown: list[np.ndarray] = []
        self.notes: dict[str, None] = {}
        self.first = True
        self.repeats: list[Repeats] = []

    def start(self, session: Session, table: RawTable, report: IngestReport) -> None:
        self.columns = require_columns(table, CASE_COLUMNS, ["category", "title", "created_at"])
        self.source = report.source = table.source
        if "severity" not in self.columns:
            report.notes.append("no severity column: every case filed as medium")
        if find_column(table, ("state", "状态")):
            report.notes.append("the state column is ignored: ingested findings start as warnings")
        self.has_place = find_column(table, PLACE_NAMES) is not None or table.geometry is not None
        self.shops = dict(session.execute(select(Shop.shop_code, Shop.geometry)).all()) \
            if "shop_id" in self.columns else {}
        self.district = district_of(session) if self.has_place else None
        # Cases written by this ingest are not "stored" duplicates: the in-file check names their row.
        self.watermark = session.scalar(select(func.max(Case.id))) or 0
        self.repeats = ([Repeats("case_id")] if "case_id" in self.columns else []) + [Repeats("created_at")]
        self.filer = CaseFiler(session, system_viewer())
        self.grids_checked = False

    def check(self, table: RawTable) -> tuple[Rows, _CaseRows]:
        """Every check that needs no database (the worker's part), in the whole-file order."""
        frame, columns = table.frame, self.columns
        rows = Rows(table.source, frame.index, list(table.problems))
        kinds = codes(rows, text(frame, columns.get("kind")), "kind", [k.value for k in CaseKind], KIND_ALIASES,
                      shown=accepted("kind", [k.value for k in CaseKind]), default="patrol")
        categories = codes(rows, text(frame, columns["category"]), "category", [c.value for c in Category],
                           CATEGORY_ALIASES, shown=accepted("category", [c.value for c in Category]))
        severities = codes(rows, text(frame, columns.get("severity")), "severity", [s.value for s in Severity],
                           SEVERITY_ALIASES, default="medium",
                           shown=accepted("severity", [s.value for s in Severity]))
        titles = required_text(rows, text(frame, columns["title"]), "title", max_length=255)
        created = times(rows, text(frame, columns["created_at"]), "created_at", now=self.now)
        shop_ids = text(frame, columns.get("shop_id"))
        reporters, descriptions = text(frame, columns.get("reporter")), text(frame, columns.get("description"))
        departments = optional_text(rows, text(frame, columns.get("department")), "department", max_length=128)
        requesters = optional_text(rows, text(frame, columns.get("requester")), "requester", max_length=128)
        no_nul_bytes(rows, frame, columns)
        lon, lat = self._place(rows, table, shop_ids)
        keys = categories.astype(str) + "|" + _key_time(created) + "|" \
            + pd.Series(np.round(lon, ID_DECIMALS), index=frame.index).astype(str) + "|" \
            + pd.Series(np.round(lat, ID_DECIMALS), index=frame.index).astype(str)
        if "case_id" in columns:
            self.repeats[0].add(text(frame, columns["case_id"]))
        self.repeats[-1].add(keys.where(~created.isna() & np.isfinite(lon), ""))
        return rows, _CaseRows(kinds, categories, severities, titles, created, shop_ids, reporters, descriptions,
                               departments, requesters, lon, lat, keys)

    def _place(self, rows: Rows, table: RawTable, shop_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Each row's point: its lon/lat or geometry, else its shop's."""
        first, self.first = self.first, False
        for row, code in shop_ids.items():
            if code and code not in self.shops:
                rows.add(row, "shop_id", f"{code!r} is not a stored shop; ingest the shop register first")
        need_place = (shop_ids == "").to_numpy() | (shop_ids.map(lambda c: c not in self.shops)).to_numpy()
        n = len(table.frame)
        if self.has_place:
            located = locate(rows, table, crs=self.crs, coords=self.coords, district=self.district,
                             required=need_place)
            lon, lat = located.lon, located.lat
            self.notes.update(dict.fromkeys(located.notes))
        elif first and not (shop_ids != "").any():
            raise InputFileError(table.source, 1, "lon", "missing place: no lon/lat columns, no geometry "
                                 "and no shop_id")
        else:
            lon, lat = np.full(n, np.nan), np.full(n, np.nan)
            for i, row in enumerate(table.frame.index):
                if need_place[i] and not shop_ids[row]:
                    rows.add(row, "lon", "no place: give lon/lat or a shop_id")
        # A row with a shop but no coordinates lies at its shop.
        for i, code in enumerate(shop_ids):
            if code in self.shops and not np.isfinite(lon[i]):
                lon[i], lat[i] = self.shops[code].x, self.shops[code].y
        return lon, lat

    def verify(self, session: Session, table: RawTable, rows: Rows, parsed: _CaseRows) -> _CaseRows:
        """The checks against the database: the grids, the users, the cases stored before this file."""
        if not self.grids_checked:
            if current_grid_frame(session).empty:
                raise InputFileError(table.source, 1, "(grids)", "there are no grids yet: cases are filed into "
                                     "grids; run `linpu grids save` or load the demo first")
            self.grids_checked = True
        grid_ids, distance = _grid_ids(session, parsed.lon, parsed.lat)
        snap_m = get_settings().snap_to_grid_m
        lon, lat = parsed.lon, parsed.lat
        for i in np.flatnonzero(np.isfinite(lon) & pd.isna(grid_ids)):
            row = table.frame.index[i]
            if row not in rows.bad_rows:
                rows.add(row, "lon", f"({lon[i]:.6f}, {lat[i]:.6f}) lies in no current grid: "
                         f"{distance[i]:,.1f} m outside the nearest, farther than LINPU_SNAP_TO_GRID_M "
                         f"({snap_m:g} m)")
        parsed.user_ids = self.users.ids(session, parsed.reporters)
        stored = _stored_case_keys(session, parsed.created, self.watermark)
        for row, key in parsed.keys.items():
            if key in stored:
                rows.add(row, "created_at", f"the same finding (category, time and place) is stored as "
                         f"case {stored[key]}")
        parsed.good = _good_rows(rows)
        unknown = [bool(name) and name not in parsed.user_ids for name in parsed.reporters[rows.good_mask()]]
        self.unknown.append(parsed.good[np.asarray(unknown, dtype=bool)])
        return parsed

    def write(self, session: Session, good: np.ndarray, parsed: _CaseRows) -> np.ndarray:
        """File the chunk's good rows as the system account."""
        reporters = parsed.reporters.to_numpy()[good]
        batch = pd.DataFrame({
            "kind": parsed.kinds.to_numpy()[good], "category": parsed.categories.to_numpy()[good],
            "severity": parsed.severities.to_numpy()[good], "title": parsed.titles.to_numpy()[good],
            "description": parsed.descriptions.to_numpy()[good], "lon": parsed.lon[good], "lat": parsed.lat[good],
            "shop_code": parsed.shop_ids.to_numpy()[good], "department": parsed.departments.to_numpy()[good],
            "requester": parsed.requesters.to_numpy()[good],
            "created_at": parsed.created[good].reset_index(drop=True),
            # Who found it; the history row says who imported (the system account).
            "reporter_id": pd.Series([parsed.user_ids.get(name) for name in reporters], dtype=object),
        })
        try:
            return self.filer.file(batch).case_ids
        except LinpuError as exc:  # validated above; anything left aborts the whole file
            raise _filed_row(self.source, parsed.good, exc) from None

    def withdraw(self, session: Session, ids: list[int]) -> None:
        self.filer.withdraw(ids)

    def count(self, report: IngestReport, good: int, late: set[int]) -> None:
        unknown = np.concatenate(self.unknown) if self.unknown else np.zeros(0, dtype=np.int64)
        report.counts = {"filed": good, "unknown_reporters": int((~np.isin(unknown, list(late))).sum())}
        report.notes[:0] = [n for n in self.notes if n not in report.notes]

    def finish(self, session: Session) -> None:
        self.filer.finish()


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
    chunk_rows: int = CHUNK_ROWS,
) -> IngestReport:
    """Validate a field export of findings and file every valid row as a case.

    Columns: ``category``, ``title``, ``created_at`` and a place (lon/lat,
    a geometry, or a ``shop_id`` whose position is used) are required;
    ``kind`` (default ``patrol``), ``severity`` (default ``medium``),
    ``description``, ``shop_id``, ``reporter``, ``department``,
    ``requester`` and ``case_id`` (only to find repeats) are optional.

    ``chunk_rows``: rows validated and written at a time (memory follows it, not the file).

    Returns an :class:`~pipelines.ingest.IngestReport` with counts ``filed``
    and ``unknown_reporters``.
    """
    job = _CaseIngest(crs=crs, coords=coords, now=now or datetime.now(UTC))
    report = IngestReport("cases", "", 0, dry_run=dry_run, skip_invalid=skip_invalid)
    return run(engine, read_chunks(source, name, rows=chunk_rows), job, report, dry_run=dry_run,
               progress=progress or (lambda *_: None), reread=lambda: read_chunks(source, name, rows=chunk_rows))


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


def _stored_case_keys(session, created: pd.Series, watermark: int) -> dict[str, str]:
    """Keys of the cases stored before this ingest (ids up to ``watermark``) in the chunk's time span."""
    present = created.dropna()
    if present.empty:
        return {}
    rows = session.execute(
        select(Case.case_no, type_coerce(Case.category, String), Case.created_at, raw_wkb(session, Case.geometry))
        .where(Case.created_at >= present.min().to_pydatetime(), Case.created_at <= present.max().to_pydatetime(),
               Case.id <= watermark)
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


@dataclass
class _CheckRows:
    """One chunk of checks as parsed by the worker."""

    shop_ids: pd.Series
    categories: pd.Series
    performed: pd.Series
    inspectors: pd.Series
    notes: pd.Series
    answers: list[dict[str, bool] | None]
    keys: pd.Series
    good: np.ndarray | None = None
    user_ids: dict[str, int] | None = None


def _answers(rows: Rows, frame: pd.DataFrame, columns: dict[str, str], categories: pd.Series):
    """Each row's checklist answers from its failed items, checked against its result."""
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
    return answers


class _CheckIngest:
    """``linpu ingest checks`` as a :class:`pipelines.stream.Job`."""

    def __init__(self, *, now: datetime):
        self.now = now
        self.users = _Users()
        self.failing: list[np.ndarray] = []
        self.repeats: list[Repeats] = []

    def start(self, session: Session, table: RawTable, report: IngestReport) -> None:
        self.columns = require_columns(table, CHECK_COLUMNS, ["shop_id", "category", "performed_at"])
        self.source = report.source = table.source
        self.shops = dict(session.execute(select(Shop.shop_code, Shop.grid_id)).all())
        # Checks written by this ingest are not "stored" duplicates: the in-file check names their row.
        self.watermark = session.scalar(select(func.max(HazardCheck.id))) or 0
        self.repeats = ([Repeats("check_id")] if "check_id" in self.columns else []) + [Repeats("performed_at")]
        self.recorder = CheckRecorder(session, system_viewer())

    def check(self, table: RawTable) -> tuple[Rows, _CheckRows]:
        """Every check that needs no database (the worker's part), in the whole-file order."""
        frame, columns = table.frame, self.columns
        rows = Rows(table.source, frame.index, list(table.problems))
        shop_ids = required_text(rows, text(frame, columns["shop_id"]), "shop_id", max_length=64)
        categories = codes(rows, text(frame, columns["category"]), "category",
                           [c.value for c in CHECK_CATEGORIES], CATEGORY_ALIASES,
                           shown=accepted("category", [c.value for c in CHECK_CATEGORIES]))
        performed = times(rows, text(frame, columns["performed_at"]), "performed_at", now=self.now)
        inspectors, notes = text(frame, columns.get("inspector")), text(frame, columns.get("note"))
        no_nul_bytes(rows, frame, columns)
        answers = _answers(rows, frame, columns, categories)
        for row, code in shop_ids.items():
            if code and code not in self.shops:
                rows.add(row, "shop_id", f"{code!r} is not a stored shop; ingest the shop register first")
            elif code and self.shops[code] is None:
                rows.add(row, "shop_id", f"shop {code!r} lies in no grid; save grids first")
        keys = shop_ids + "|" + categories.astype(str) + "|" + _key_time(performed)
        if "check_id" in columns:
            self.repeats[0].add(text(frame, columns["check_id"]))
        self.repeats[-1].add(keys.where(~performed.isna(), ""))
        return rows, _CheckRows(shop_ids, categories, performed, inspectors, notes, answers, keys)

    def verify(self, session: Session, table: RawTable, rows: Rows, parsed: _CheckRows) -> _CheckRows:
        """The checks against the database: the users, the checks stored before this file."""
        parsed.user_ids = self.users.ids(session, parsed.inspectors)
        stored = _stored_check_keys(session, parsed.performed, self.watermark)
        for row, key in parsed.keys.items():
            if key in stored:
                rows.add(row, "performed_at", f"the same check (shop, category, time) is stored as {stored[key]}")
        good = rows.good_mask()
        parsed.good = _good_rows(rows)
        failing = [not all(parsed.answers[i].values()) for i in np.flatnonzero(good)]
        self.failing.append(parsed.good[np.asarray(failing, dtype=bool)])
        return parsed

    def write(self, session: Session, good: np.ndarray, parsed: _CheckRows) -> np.ndarray:
        """Record the chunk's good rows as the system account."""
        where = np.flatnonzero(good)
        batch = pd.DataFrame({
            "shop_code": parsed.shop_ids.to_numpy()[good], "category": parsed.categories.to_numpy()[good],
            "answers": [parsed.answers[i] for i in where], "note": parsed.notes.to_numpy()[good],
            "performed_at": parsed.performed[good].reset_index(drop=True),
            "inspector_id": pd.Series([parsed.user_ids.get(n) for n in parsed.inspectors.to_numpy()[good]],
                                      dtype=object),
        })
        try:
            return self.recorder.record(batch).check_ids
        except LinpuError as exc:
            raise _filed_row(self.source, parsed.good, exc) from None

    def withdraw(self, session: Session, ids: list[int]) -> None:
        self.recorder.withdraw(ids)

    def count(self, report: IngestReport, good: int, late: set[int]) -> None:
        failing = np.concatenate(self.failing) if self.failing else np.zeros(0, dtype=np.int64)
        failed = int((~np.isin(failing, list(late))).sum())
        report.counts = {"recorded": good, "failed": failed, "cases_raised": failed}

    def finish(self, session: Session) -> None:
        self.recorder.finish()


def ingest_checks(
    engine: Engine,
    source: bytes | Path,
    *,
    name: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestReport:
    """Validate a field export of hazard checks and record every valid row.

    Columns: ``shop_id``, ``category`` (a check category), ``performed_at``
    are required; ``failed_items`` (``;``-separated checklist item codes, empty
    for a pass), ``result`` (pass/fail, checked against the failed items),
    ``inspector``, ``note`` and ``check_id`` (only to find repeats) are
    optional. A failed check raises a hazard_check case through the workflow.

    Returns an :class:`~pipelines.ingest.IngestReport` with counts ``recorded``,
    ``failed`` and ``cases_raised``.
    """
    job = _CheckIngest(now=now or datetime.now(UTC))
    report = IngestReport("checks", "", 0, dry_run=dry_run, skip_invalid=skip_invalid)
    return run(engine, read_chunks(source, name, rows=chunk_rows), job, report, dry_run=dry_run,
               progress=progress or (lambda *_: None), reread=lambda: read_chunks(source, name, rows=chunk_rows))


def _stored_check_keys(session, performed: pd.Series, watermark: int) -> dict[str, str]:
    """Keys of the checks stored before this ingest (ids up to ``watermark``) in the chunk's time span."""
    present = performed.dropna()
    if present.empty:
        return {}
    rows = session.execute(
        select(HazardCheck.check_no, Shop.shop_code, HazardCheck.category, HazardCheck.performed_at)
        .join(Shop, Shop.id == HazardCheck.shop_id)
        .where(HazardCheck.performed_at >= present.min().to_pydatetime(),
               HazardCheck.performed_at <= present.max().to_pydatetime(), HazardCheck.id <= watermark)
    ).all()
    return {
        f"{code}|{getattr(category, 'value', category)}|"
        f"{pd.Timestamp(at).tz_convert(UTC).strftime('%Y-%m-%dT%H:%M:%S')}": check_no
        for check_no, code, category, at in rows
    }
