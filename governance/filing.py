"""Filing many cases at once: the batch form of ``governance.workflow.file_case``.

An import of a field export files tens of thousands to a million findings;
``file_case`` places one point and flushes the ORM twice per case (8–31 ms
each), hours for a million.  :func:`file_cases` files a whole table of rows
with the same outcome as calling ``file_case`` row by row:

- the same checks and errors: the viewer must be allowed to write, kind,
  category and severity must be known, the title non-empty and at most 255
  characters, the point within WGS84 ranges and inside a current grid
  (``OutsideGrids`` with the distance to the nearest), a named shop must
  exist, and the viewer must be allowed to write in the point's grid;
- the same record: a case in state warning, numbered ``L<YYYYMMDD>-<8 hex>``
  from its own filing time, due after ``governance.sla.resolve_limit``, with
  one ``raise`` history row (seq 1, the viewer as actor);
- the same derived data: the grid's stored case total grows by the cases
  filed in it, and the checks due of shops named by construction cases are
  recomputed; both once per batch, for the grids and shops touched.

How, by design: placement is vectorised (one spatial-index query for many
points), and rows are written with Core bulk inserts in chunks of
``chunk_size``.  Case ids come back through ``INSERT ... RETURNING`` with the
(unique) case number on SQLite, and are drawn from the table's sequence before
a pipelined executemany on PostgreSQL.  Core inserts bypass the session's
flush-time NUL check (``governance.db``), so text holding a NUL character is
refused here, with the same wording.  All of it runs in the caller's
transaction: if any row is refused nothing is written, and a failure or a
kill half-way leaves the database as it was once the transaction is rolled
back.  When several rows are bad, the error names the first row failing the
first check in ``file_case``'s order (check by check, not row by row).

Refusals raise the same exception classes as ``file_case`` with the same
message, plus a ``position`` attribute: the 0-based position of the row in
the batch.  Attachments are not part of a batch (``file_case`` takes them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import String, any_, insert, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from governance.catalog import CHECK_CATEGORIES, CaseKind, Category, Severity
from governance.check_due import refresh_check_due
from governance.checklists import evaluate
from governance.clock import clock
from governance.compact import occupation_checks
from governance.errors import (
    NUL_REFUSAL,
    LinpuError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from governance.figures import count_raised
from governance.finding_place import place_findings
from governance.grids import check_point
from governance.models import Case, CaseHistory, HazardCheck, Shop
from governance.outbox import announce_batch
from governance.permissions import Viewer, require_duty, require_write
from governance.rules import RULES
from governance.sla import due_times
from governance.workflow import failed_check_case, record_numbers, require_step
from governance.working_time import working_calendar

#: Rows written per INSERT batch: large enough to amortise a round trip,
#: small enough that a million-row import stays within a few hundred MB.
CHUNK_SIZE = 5000
CASE_PREFIX = "L"
REQUIRED = ("kind", "category", "severity", "title", "lon", "lat", "created_at")
OPTIONAL = ("description", "shop_code", "department", "requester", "reporter_id", "grid_id", "history_note")


@dataclass
class FiledCases:
    """What :func:`file_cases` wrote: ids and numbers in the order of the rows given."""

    case_ids: np.ndarray
    case_nos: list[str] = field(repr=False)
    grid_ids: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.case_ids)


def _refuse(cls: type[LinpuError], position: int, message: str) -> LinpuError:
    exc = cls(message)
    exc.position = int(position)  # type: ignore[attr-defined]
    return exc


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _text(rows: pd.DataFrame, column: str) -> np.ndarray:
    if column not in rows:
        return np.full(len(rows), "", dtype=object)
    values = rows[column].astype(object).to_numpy()
    missing = pd.isna(values)
    values = values.copy()
    values[missing] = ""
    return values.astype(str).astype(object)


def _enum_column(enum, values: np.ndarray, field_name: str) -> np.ndarray:
    lookup = {m.value: m for m in enum} | {m: m for m in enum}
    out = np.empty(len(values), dtype=object)
    for value in pd.unique(values):
        try:
            member = lookup[value] if value in lookup else enum(value)
        except (ValueError, TypeError):
            position = _first(pd.isna(values) if pd.isna(value) else values == value)
            allowed = ", ".join(m.value for m in enum)
            raise _refuse(ValidationError, position, f"{field_name}={value!r} is not known; allowed: {allowed}") \
                from None
        out[values == value] = member
    return out


def _times(values) -> tuple[pd.Series, np.ndarray]:
    """UTC filing times and each row's ``%Y%m%d`` in its own timezone (as ``file_case`` numbers it)."""
    series = pd.Series(values).reset_index(drop=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert(UTC), series.dt.strftime("%Y%m%d").to_numpy(dtype=object)
    days = np.empty(len(series), dtype=object)
    for i, value in enumerate(series):
        if getattr(value, "tzinfo", None) is None:
            raise _refuse(ValidationError, i, f"now={value!r} has no timezone; give an aware datetime")
        days[i] = f"{value:%Y%m%d}"
    return pd.to_datetime(series, utc=True), days


def _numbers(days: np.ndarray, prefix: str) -> np.ndarray:
    return np.array(record_numbers(prefix, days.tolist()), dtype=object)


def _next_ids(session: Session, n: int) -> list[int]:
    """``n`` ids from the sequence of ``cases.id`` (PostgreSQL), as ``INSERT`` would draw them."""
    return session.scalars(
        text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, :n)"), {"n": n}
    ).all()


def _unique_numbers(session: Session, days: np.ndarray, prefix: str, column) -> np.ndarray:
    """Numbers for ``days``, none repeated among them or already in ``column`` (random suffixes can
    collide); the stored ones are looked up a chunk at a time."""
    numbers = _numbers(days, prefix)
    postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        clash = pd.Series(numbers).duplicated().to_numpy(copy=True)  # written below: pandas 3 views are read-only
        for start in range(0, len(numbers), CHUNK_SIZE):
            wanted = numbers[start : start + CHUNK_SIZE].tolist()
            # One array parameter on PostgreSQL rather than thousands of bound values.
            among = column == any_(literal(wanted, ARRAY(String))) if postgres else column.in_(wanted)
            stored = set(session.scalars(select(column).where(among)).all())
            if stored:
                clash[start : start + CHUNK_SIZE] |= np.isin(numbers[start : start + CHUNK_SIZE], list(stored))
        if not clash.any():
            return numbers
        numbers[clash] = _numbers(days[clash], prefix)


def _first_nul(values: np.ndarray) -> int | None:
    """Position of the first text holding U+0000 (Core inserts bypass the session's check)."""
    return _first(pd.Series(values).str.contains("\x00", regex=False).to_numpy(dtype=bool))




def _shop_ids(session: Session, codes: np.ndarray) -> np.ndarray:
    out = np.full(len(codes), None, dtype=object)
    named = codes != ""
    if not named.any():
        return out
    wanted = pd.unique(codes[named]).tolist()
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        found.update(session.execute(
            select(Shop.shop_code, Shop.id).where(Shop.shop_code.in_(wanted[start : start + CHUNK_SIZE]))
        ).all())
    for i in np.flatnonzero(named):
        shop_id = found.get(codes[i])
        if shop_id is None:
            raise _refuse(NotFoundError, i, f"shop_code={codes[i]!r}: no such shop")
        out[i] = shop_id
    return out


def file_cases(
    session: Session,
    viewer: Viewer,
    rows: pd.DataFrame,
    *,
    note: str = "",
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> FiledCases:
    # Long: one batch's checks, numbering and chunked inserts in one transaction; issue 25's streaming ingest splits it.
    """File every row of ``rows`` as a case (state warning), as ``file_case`` would one by one.

    ``rows`` has the columns ``kind``, ``category``, ``severity`` (codes or
    the enums), ``title``, ``lon``, ``lat`` (WGS84) and ``created_at`` (aware
    datetimes: each case's filing time, ``file_case``'s ``now``), and
    optionally ``description``, ``shop_code``, ``department``,
    ``requester`` and ``reporter_id`` (who found it, when not the viewer).
    Empty text counts as absent, as in ``file_case``.  Two more optional
    columns serve :func:`record_checks`: ``grid_id`` (the case goes into this
    grid instead of the one holding its point, as a failed check's case goes
    into its shop's grid) and ``history_note``.

    ``note`` goes on every ``raise`` history row (unless ``history_note``).  ``progress(done, total)``
    is called after every chunk.  Raises ValidationError, OutsideGrids,
    NotFoundError or PermissionDenied with ``position`` (see the module);
    nothing is written then.
    """
    n = len(rows)
    missing = [c for c in REQUIRED if c not in rows]
    if missing:
        raise ValidationError(f"file_cases: missing columns {missing}; required: {', '.join(REQUIRED)}")
    if not viewer.may_write:
        require_write(viewer, None)
    require_step(viewer, "raise", "raise a case")
    empty = np.zeros(0, dtype=np.int64)
    if n == 0:
        return FiledCases(empty, [], empty)
    rows = rows.reset_index(drop=True)

    kinds = _enum_column(CaseKind, rows["kind"].to_numpy(dtype=object), "kind")
    categories = _enum_column(Category, rows["category"].to_numpy(dtype=object), "category")
    severities = _enum_column(Severity, rows["severity"].to_numpy(dtype=object), "severity")
    titles = np.array([t.strip() for t in _text(rows, "title")], dtype=object)
    lengths = np.fromiter((len(t) for t in titles), dtype=np.int64, count=n)
    if (i := _first(lengths == 0)) is not None:
        raise _refuse(ValidationError, i, "title is empty; say in a few words what was found")
    if (i := _first(lengths > 255)) is not None:
        raise _refuse(ValidationError, i, f"title is {lengths[i]} characters long; at most 255 are allowed")
    texts = {name: _text(rows, name) for name in ("description", "shop_code", "department", "requester")}
    for name, values in (("title", titles), *texts.items()):
        if (i := _first_nul(values)) is not None:
            raise _refuse(ValidationError, i, f"{name} {NUL_REFUSAL}")
    lon = pd.to_numeric(rows["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(rows["lat"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if (i := _first(bad)) is not None:
        try:
            check_point(rows["lon"].iloc[i], rows["lat"].iloc[i])
        except ValidationError as exc:
            raise _refuse(ValidationError, i, str(exc)) from None
        raise _refuse(ValidationError, i, f"lon={rows['lon'].iloc[i]!r}, lat={rows['lat'].iloc[i]!r} is not a "
                      "WGS84 point")
    created, days = _times(rows["created_at"])
    shop_ids = _shop_ids(session, texts["shop_code"])
    # Given (record_checks: the shop's grid), else placed by the point as file_case places it
    # (NotFoundError when there are no grids), with what the history must say about it.
    given = rows["grid_id"].to_numpy(dtype=object) if "grid_id" in rows else np.full(n, None, dtype=object)
    placed = pd.isna(given)
    grid_ids = np.zeros(n, dtype=np.int64)
    grid_ids[~placed] = [int(g) for g in given[~placed]]
    place_notes = np.full(n, "", dtype=object)
    if placed.any():
        where = np.flatnonzero(placed)
        try:
            places = place_findings(session, lon[where], lat[where], shop_ids[where])
        except LinpuError as exc:
            exc.position = int(where[exc.position])  # type: ignore[attr-defined]
            raise
        grid_ids[where], place_notes[where] = places.grid_ids, places.notes
    if not viewer.is_district_wide:
        for grid_id in pd.unique(grid_ids):
            try:
                require_write(viewer, int(grid_id))
            except PermissionDenied as exc:
                raise _refuse(PermissionDenied, _first(grid_ids == grid_id), str(exc)) from None

    # Deadlines: the clock file_case asks per case, once per distinct start.
    due = due_times(created, categories, severities, calendar=working_calendar(session))
    reporters = _reporters(rows, viewer)
    notes = _text(rows, "history_note") if "history_note" in rows else np.full(n, note or "", dtype=object)
    notes = np.array([f"{a}; {b}" if a and b else a or b for a, b in zip(notes, place_notes, strict=True)],
                     dtype=object)
    descriptions, departments, requesters = texts["description"], texts["department"], texts["requester"]
    occupation = np.full(n, None, dtype=object)
    if (road := categories == Category.ROAD_OCCUPATION).any():
        occupation[road] = occupation_checks(session, lon[road], lat[road],
                                             created[road].dt.to_pydatetime().tolist())

    cases, history = Case.__table__, CaseHistory.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    # SQLite: RETURNING the number with the id; rows are matched by their unique number,
    # so the statement need not keep parameter order (which SQLite could only do row by
    # row).  PostgreSQL: ids drawn from the table's sequence first (safe beside other
    # writers), then a plain executemany, which psycopg pipelines with one parsed
    # statement; a multi-row VALUES with RETURNING would be re-parsed for every batch.
    insert_cases = insert(cases) if postgres else insert(cases).returning(cases.c.case_no, cases.c.id)
    insert_history = insert(history)
    details = {"actor": viewer.username}
    case_ids = np.zeros(n, dtype=np.int64)
    case_nos: list[str] = []
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        numbers = _unique_numbers(session, days[start:stop], CASE_PREFIX, Case.case_no)
        # Python objects for one chunk at a time: a million of each would cost hundreds of MB.
        created_py = dict(zip(range(start, stop), created.iloc[start:stop].dt.to_pydatetime(), strict=True))
        due_py = dict(zip(range(start, stop), due.iloc[start:stop].dt.to_pydatetime(), strict=True))
        points = dict(zip(range(start, stop), shapely.points(lon[start:stop], lat[start:stop]), strict=True))
        records = [
            {
                "case_no": numbers[k], "kind": kinds[i], "category": categories[i], "severity": severities[i],
                "title": titles[i], "description": descriptions[i], "geometry": points[i],
                "grid_id": int(grid_ids[i]), "shop_id": shop_ids[i], "reporter_id": reporters[i],
                "state": RULES["raise"].target, "outcome": None, "created_at": created_py[i], "due_at": due_py[i],
                "follow_up_due_at": None, "closed_at": None, "department": departments[i] or None,
                "requester": requesters[i] or None, "resolved_at": None, "reopen_count": 0, "version": 1,
                "occupation": occupation[i],
            }
            for k, i in enumerate(range(start, stop))
        ]
        if postgres:
            ids = _next_ids(session, len(records))
            for record, case_id in zip(records, ids, strict=True):
                record["id"] = case_id
            session.execute(insert_cases, records)
        else:
            returned = dict(session.execute(insert_cases, records).all())
            ids = [returned[number] for number in numbers]
        case_ids[start:stop] = ids
        case_nos.extend(numbers.tolist())
        session.execute(insert_history, [
            {"case_id": case_id, "seq": 1, "at": created_py[i], "actor_id": viewer.user_id, "action": "raise",
             "from_state": None, "to_state": RULES["raise"].target, "note": notes[i], "details": details}
            for case_id, i in zip(ids, range(start, stop), strict=True)
        ])
        if progress is not None:
            progress(stop, n)

    _after_filing(session, grid_ids, categories, shop_ids)
    announce_batch(session, case_ids, grid_ids, case_nos, now=clock())
    return FiledCases(case_ids, case_nos, grid_ids)


def _reporters(rows: pd.DataFrame, viewer: Viewer) -> np.ndarray:
    out = np.full(len(rows), viewer.user_id, dtype=object)
    if "reporter_id" in rows:
        given = rows["reporter_id"].to_numpy(dtype=object)
        known = ~pd.isna(given)
        out[known] = [int(v) for v in given[known]]
    return out


def _after_filing(session: Session, grid_ids: np.ndarray, categories: np.ndarray, shop_ids: np.ndarray) -> None:
    """The derived data ``file_case`` keeps, once for the batch."""
    raised = pd.DataFrame({"g": grid_ids, "c": [str(c) for c in categories]}).value_counts()
    count_raised(session, {(int(g), c): int(n) for (g, c), n in raised.items()})
    # An open construction case makes construction checks due for its shop.
    renovating = {int(s) for s, c in zip(shop_ids, categories, strict=True)
                  if s is not None and c == Category.CONSTRUCTION}
    if renovating:
        _refresh_check_due(session, renovating)


def _refresh_check_due(session: Session, shop_ids) -> None:
    """``refresh_check_due`` for many shops, a chunk at a time (PostgreSQL takes at most 65,535 parameters)."""
    ids = sorted({int(s) for s in shop_ids})
    for start in range(0, len(ids), CHUNK_SIZE):
        refresh_check_due(session, ids[start : start + CHUNK_SIZE])


CHECK_PREFIX = "K"
CHECK_REQUIRED = ("shop_code", "category", "answers", "performed_at")


@dataclass
class RecordedChecks:
    """What :func:`record_checks` wrote, in the order of the rows given."""

    check_nos: list[str] = field(repr=False)
    case_ids: np.ndarray  # the case a failed check raised; 0 for a pass

    def __len__(self) -> int:
        return len(self.check_nos)

    @property
    def failed(self) -> int:
        return int((self.case_ids != 0).sum())


def record_checks(
    session: Session,
    viewer: Viewer,
    rows: pd.DataFrame,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> RecordedChecks:
    # Long: one batch of checks and the cases they raise, in one transaction; issue 25's streaming ingest splits it.
    """Record every row as a hazard check, as ``governance.workflow.record_check`` would one by one.

    ``rows`` has the columns ``shop_code``, ``category`` (a check category),
    ``answers`` (``{item code: complies}``, every item answered) and
    ``performed_at`` (aware datetimes, ``record_check``'s ``now``), and
    optionally ``note`` and ``inspector_id`` (who checked, when not the viewer).

    A failed check raises a hazard_check case at its shop, in its shop's grid,
    with the worst severity of the failed items, through :func:`file_cases`
    (same title, description and history note as ``record_check``).  The
    checks due of every shop checked are recomputed once.  Refusals as
    ``record_check`` (ValidationError, NotFoundError, PermissionDenied), with
    ``position``; nothing is written then.
    """
    missing = [c for c in CHECK_REQUIRED if c not in rows]
    if missing:
        raise ValidationError(f"record_checks: missing columns {missing}; required: {', '.join(CHECK_REQUIRED)}")
    n = len(rows)
    if n == 0:
        return RecordedChecks([], np.zeros(0, dtype=np.int64))
    rows = rows.reset_index(drop=True)
    require_step(viewer, "raise", "record checks (a failed one raises a case)")
    performed, days = _times(rows["performed_at"])
    categories = _enum_column(Category, rows["category"].to_numpy(dtype=object), "category")
    for i, category in enumerate(categories):
        if category not in CHECK_CATEGORIES:
            raise _refuse(ValidationError, i, f"category={category.value!r} has no checklist; hazard checks are: "
                          + ", ".join(c.value for c in CHECK_CATEGORIES))
        try:
            require_duty(viewer, category)
        except PermissionDenied as exc:
            raise _refuse(PermissionDenied, i, str(exc)) from None
    codes = _text(rows, "shop_code")
    wanted = pd.unique(codes).tolist()
    shops: dict[str, tuple] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        for code, shop_id, grid_id, geometry in session.execute(
            select(Shop.shop_code, Shop.id, Shop.grid_id, Shop.geometry)
            .where(Shop.shop_code.in_(wanted[start : start + CHUNK_SIZE]))
        ).all():
            shops[code] = (shop_id, grid_id, geometry)
    for i, code in enumerate(codes):
        if code not in shops:
            raise _refuse(NotFoundError, i, f"shop_code={code!r}: no such shop")
        if shops[code][1] is None:
            raise _refuse(ValidationError, i, f"shop {code} lies in no grid; rebuild the grids before checking it")
    shop_ids = np.array([shops[c][0] for c in codes], dtype=np.int64)
    grid_ids = np.array([shops[c][1] for c in codes], dtype=np.int64)
    for grid_id in pd.unique(grid_ids):
        try:
            require_write(viewer, int(grid_id))
        except PermissionDenied as exc:
            raise _refuse(PermissionDenied, _first(grid_ids == grid_id), str(exc)) from None
    answers, outcomes = [], []
    for i, (category, given) in enumerate(zip(categories, rows["answers"], strict=True)):
        try:
            outcomes.append(evaluate(category, {str(k): bool(v) for k, v in given.items()}))
        except ValueError as exc:
            raise _refuse(ValidationError, i, f"answers: {exc}") from None
        answers.append(dict(given))
    notes = _text(rows, "note")
    if (i := _first_nul(notes)) is not None:
        raise _refuse(ValidationError, i, f"note {NUL_REFUSAL}")
    numbers = _unique_numbers(session, days, CHECK_PREFIX, HazardCheck.check_no)

    # The cases of failed checks, as record_check raises them.
    failed = np.array([not o.passed for o in outcomes], dtype=bool)
    case_ids = np.zeros(n, dtype=np.int64)
    where = np.flatnonzero(failed)
    if len(where):
        titles, descriptions, severities, history_notes = [], [], [], []
        for i in where:
            title, description, history_note = failed_check_case(categories[i], outcomes[i], notes[i], numbers[i])
            titles.append(title)
            descriptions.append(description)
            severities.append(outcomes[i].severity)
            history_notes.append(history_note)
        points = [shops[codes[i]][2] for i in where]
        filed = file_cases(session, viewer, pd.DataFrame({
            "kind": CaseKind.HAZARD_CHECK, "category": categories[where], "severity": severities,
            "title": titles, "description": descriptions,
            "lon": [p.x for p in points], "lat": [p.y for p in points],
            "shop_code": codes[where], "grid_id": grid_ids[where], "history_note": history_notes,
            "created_at": rows["performed_at"].iloc[where].reset_index(drop=True),
        }), chunk_size=chunk_size)
        case_ids[where] = filed.case_ids

    inspectors = _reporters(rows.rename(columns={"inspector_id": "reporter_id"}), viewer)
    checks = HazardCheck.__table__
    stale_before = session.info.get("check_due_stale", False)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        times = performed.iloc[start:stop].dt.to_pydatetime()
        session.execute(insert(checks), [
            {"check_no": numbers[i], "shop_id": int(shop_ids[i]), "category": categories[i], "answers": answers[i],
             "passed": bool(outcomes[i].passed), "inspector_id": inspectors[i], "performed_at": at,
             "case_id": int(case_ids[i]) or None, "note": notes[i]}
            for i, at in zip(range(start, stop), times, strict=True)
        ])
        if progress is not None:
            progress(stop, n)
    # The checks due of the shops checked, once; then the session need not recompute every
    # shop's at commit for these inserts (governance.db marks bulk check writes as stale).
    _refresh_check_due(session, shop_ids.tolist())
    if not stale_before:
        session.info.pop("check_due_stale", None)
    return RecordedChecks(numbers.tolist(), case_ids)


__all__ = ["CHUNK_SIZE", "FiledCases", "RecordedChecks", "file_cases", "record_checks"]
