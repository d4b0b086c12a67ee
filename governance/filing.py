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
points), and rows are loaded a chunk of ``chunk_size`` at a time by
:mod:`governance.bulk_load` (``COPY`` on PostgreSQL, one prepared
``executemany`` on SQLite), with their ids drawn first (the table's
sequence; after the largest id on SQLite), so the history rows can name
their case.  Loads bypass the session's flush-time NUL check
(``governance.db``), so text holding a NUL character is refused here, with
the same wording.  All of it runs in the caller's transaction: if any row is
refused nothing is written, and a failure or a kill half-way leaves the
database as it was once the transaction is rolled back.  When several rows
are bad, the error names the first row failing the first check in
``file_case``'s order (check by check, not row by row).  :class:`CaseFiler`
files a stream of chunks (a file read a chunk at a time) as one batch;
``governance.filing_checks`` records checks the same way.

Refusals raise the same exception classes as ``file_case`` with the same
message, plus a ``position`` attribute: the 0-based position of the row in
the batch.  Attachments are not part of a batch (``file_case`` takes them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

import numpy as np
import pandas as pd
from sqlalchemy import String, any_, delete, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from governance.bulk_load import (
    analyze,
    is_postgres,
    load,
    next_ids,
    plain,
    stored_json,
    stored_points,
    stored_times,
)
from governance.catalog import CaseKind, Category, Severity
from governance.check_due import refresh_check_due
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
from governance.models import Case, CaseHistory, Shop
from governance.outbox import GridBatch, announce_grid_batches
from governance.permissions import Viewer, require_write
from governance.rules import RULES
from governance.sla import due_times
from governance.workflow import record_numbers, require_step
from governance.working_time import working_calendar

#: Rows loaded per statement: large enough to amortise a round trip, small
#: enough that the Python objects of one chunk stay a few MB.
CHUNK_SIZE = 5000
CASE_PREFIX = "L"
#: A load this large refreshes PostgreSQL's planner statistics of the tables it wrote.
ANALYZE_AFTER = 10_000
CASE_COLUMNS = ("id", "case_no", "kind", "category", "severity", "title", "description", "geometry", "grid_id",
                "shop_id", "reporter_id", "state", "created_at", "due_at", "department", "requester",
                "reopen_count", "version", "occupation")
HISTORY_COLUMNS = ("case_id", "seq", "at", "actor_id", "action", "from_state", "to_state", "note", "details")
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


def refuse(cls: type[LinpuError], position: int, message: str) -> LinpuError:
    exc = cls(message)
    exc.position = int(position)  # type: ignore[attr-defined]
    return exc


def first_of(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def text_of(rows: pd.DataFrame, column: str) -> np.ndarray:
    if column not in rows:
        return np.full(len(rows), "", dtype=object)
    values = rows[column].astype(object).to_numpy()
    missing = pd.isna(values)
    values = values.copy()
    values[missing] = ""
    return values.astype(str).astype(object)


def enum_column(enum, values: np.ndarray, field_name: str) -> np.ndarray:
    lookup = {m.value: m for m in enum} | {m: m for m in enum}
    out = np.empty(len(values), dtype=object)
    for value in pd.unique(values):
        try:
            member = lookup[value] if value in lookup else enum(value)
        except (ValueError, TypeError):
            position = first_of(pd.isna(values) if pd.isna(value) else values == value)
            allowed = ", ".join(m.value for m in enum)
            raise refuse(ValidationError, position, f"{field_name}={value!r} is not known; allowed: {allowed}") \
                from None
        out[values == value] = member
    return out


def filing_times(values) -> tuple[pd.Series, np.ndarray]:
    """UTC filing times and each row's ``%Y%m%d`` in its own timezone (as ``file_case`` numbers it)."""
    series = pd.Series(values).reset_index(drop=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert(UTC), series.dt.strftime("%Y%m%d").to_numpy(dtype=object)
    days = np.empty(len(series), dtype=object)
    for i, value in enumerate(series):
        if getattr(value, "tzinfo", None) is None:
            raise refuse(ValidationError, i, f"now={value!r} has no timezone; give an aware datetime")
        days[i] = f"{value:%Y%m%d}"
    return pd.to_datetime(series, utc=True), days


def _numbers(days: np.ndarray, prefix: str) -> np.ndarray:
    return np.array(record_numbers(prefix, days.tolist()), dtype=object)


def unique_numbers(session: Session, days: np.ndarray, prefix: str, column) -> np.ndarray:
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


def first_nul(values: np.ndarray) -> int | None:
    """Position of the first text holding U+0000 (Core inserts bypass the session's check)."""
    return first_of(pd.Series(values).str.contains("\x00", regex=False).to_numpy(dtype=bool))




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
            raise refuse(NotFoundError, i, f"shop_code={codes[i]!r}: no such shop")
        out[i] = shop_id
    return out


@dataclass
class _CaseBatch:
    """Checked rows of one call, as columns, in the order given."""

    kinds: np.ndarray
    categories: np.ndarray
    severities: np.ndarray
    titles: np.ndarray
    descriptions: np.ndarray
    departments: np.ndarray
    requesters: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    created: pd.Series
    days: np.ndarray
    shop_ids: np.ndarray
    grid_ids: np.ndarray = field(default=None)
    notes: np.ndarray = field(default=None)
    reporters: np.ndarray = field(default=None)
    occupation: np.ndarray = field(default=None)
    due: pd.Series = field(default=None)

    @property
    def n(self) -> int:
        return len(self.titles)


def _checked_batch(session: Session, viewer: Viewer, rows: pd.DataFrame) -> _CaseBatch:
    """``file_case``'s checks on every row, check by check, the first failing row named; then the
    places, notes, reporters and road-occupation checks of the rows."""
    n = len(rows)
    kinds = enum_column(CaseKind, rows["kind"].to_numpy(dtype=object), "kind")
    categories = enum_column(Category, rows["category"].to_numpy(dtype=object), "category")
    severities = enum_column(Severity, rows["severity"].to_numpy(dtype=object), "severity")
    titles = np.array([t.strip() for t in text_of(rows, "title")], dtype=object)
    lengths = np.fromiter((len(t) for t in titles), dtype=np.int64, count=n)
    if (i := first_of(lengths == 0)) is not None:
        raise refuse(ValidationError, i, "title is empty; say in a few words what was found")
    if (i := first_of(lengths > 255)) is not None:
        raise refuse(ValidationError, i, f"title is {lengths[i]} characters long; at most 255 are allowed")
    texts = {name: text_of(rows, name) for name in ("description", "shop_code", "department", "requester")}
    for name, values in (("title", titles), *texts.items()):
        if (i := first_nul(values)) is not None:
            raise refuse(ValidationError, i, f"{name} {NUL_REFUSAL}")
    lon, lat = _points(rows)
    created, days = filing_times(rows["created_at"])
    batch = _CaseBatch(kinds, categories, severities, titles, texts["description"], texts["department"],
                       texts["requester"], lon, lat, created, days, _shop_ids(session, texts["shop_code"]))
    batch.grid_ids, place_notes = _placed(session, viewer, rows, batch)
    batch.reporters = reporters_of(rows, viewer)
    notes = text_of(rows, "history_note") if "history_note" in rows else np.full(n, "", dtype=object)
    batch.notes = np.array([f"{a}; {b}" if a and b else a or b for a, b in zip(notes, place_notes, strict=True)],
                           dtype=object)
    batch.occupation = np.full(n, None, dtype=object)
    if (road := categories == Category.ROAD_OCCUPATION).any():
        batch.occupation[road] = occupation_checks(session, lon[road], lat[road],
                                                   created[road].dt.to_pydatetime().tolist())
    return batch


def _points(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lon = pd.to_numeric(rows["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(rows["lat"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if (i := first_of(bad)) is not None:
        try:
            check_point(rows["lon"].iloc[i], rows["lat"].iloc[i])
        except ValidationError as exc:
            raise refuse(ValidationError, i, str(exc)) from None
        raise refuse(ValidationError, i, f"lon={rows['lon'].iloc[i]!r}, lat={rows['lat'].iloc[i]!r} is not a "
                      "WGS84 point")
    return lon, lat


def _placed(session: Session, viewer: Viewer, rows: pd.DataFrame, batch: _CaseBatch):
    """Each row's grid id and place note: given (record_checks: the shop's grid), else placed by the
    point as file_case places it (NotFoundError when there are no grids); the viewer's right to each grid."""
    n = batch.n
    given = rows["grid_id"].to_numpy(dtype=object) if "grid_id" in rows else np.full(n, None, dtype=object)
    placed = pd.isna(given)
    grid_ids = np.zeros(n, dtype=np.int64)
    grid_ids[~placed] = [int(g) for g in given[~placed]]
    place_notes = np.full(n, "", dtype=object)
    if placed.any():
        where = np.flatnonzero(placed)
        try:
            places = place_findings(session, batch.lon[where], batch.lat[where], batch.shop_ids[where])
        except LinpuError as exc:
            exc.position = int(where[exc.position])  # type: ignore[attr-defined]
            raise
        grid_ids[where], place_notes[where] = places.grid_ids, places.notes
    if not viewer.is_district_wide:
        for grid_id in pd.unique(grid_ids):
            try:
                require_write(viewer, int(grid_id))
            except PermissionDenied as exc:
                raise refuse(PermissionDenied, first_of(grid_ids == grid_id), str(exc)) from None
    return grid_ids, place_notes


def reporters_of(rows: pd.DataFrame, viewer: Viewer) -> np.ndarray:
    out = np.full(len(rows), viewer.user_id, dtype=object)
    if "reporter_id" in rows:
        given = rows["reporter_id"].to_numpy(dtype=object)
        known = ~pd.isna(given)
        out[known] = [int(v) for v in given[known]]
    return out


def refresh_checks_due(session: Session, shop_ids) -> None:
    """``refresh_check_due`` for many shops, a chunk at a time (PostgreSQL takes at most 65,535 parameters)."""
    ids = sorted({int(s) for s in shop_ids})
    for start in range(0, len(ids), CHUNK_SIZE):
        refresh_check_due(session, ids[start : start + CHUNK_SIZE])


def file_cases(
    session: Session,
    viewer: Viewer,
    rows: pd.DataFrame,
    *,
    note: str = "",
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> FiledCases:
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
    nothing is written then.  One call is one batch: :class:`CaseFiler` files
    a stream of chunks as one.
    """
    filer = CaseFiler(session, viewer, note=note, chunk_size=chunk_size)
    filed = filer.file(rows, progress=progress)
    filer.finish()
    return filed


class CaseFiler:
    """Files cases chunk after chunk in the caller's transaction, as one batch.

    Each :meth:`file` checks, places, numbers and writes its rows (and counts
    them in the kept figures); :meth:`finish` does what a batch does once:
    the checks due of shops named by construction cases, one summary per grid
    in the outbox, the planner's statistics.  A streamed import holds only
    the per-grid summaries between chunks.
    """

    def __init__(self, session: Session, viewer: Viewer, *, note: str = "", chunk_size: int = CHUNK_SIZE):
        self.session, self.viewer, self.note, self.chunk_size = session, viewer, note, chunk_size
        self.postgres = is_postgres(session)
        self.calendar = None
        self.summaries: dict[int, GridBatch] = {}
        self.renovating: set[int] = set()
        self.written = 0

    def file(self, rows: pd.DataFrame, *, progress: Callable[[int, int], None] | None = None) -> FiledCases:
        """Check and write ``rows`` (the columns of :func:`file_cases`); refusals as there."""
        missing = [c for c in REQUIRED if c not in rows]
        if missing:
            raise ValidationError(f"file_cases: missing columns {missing}; required: {', '.join(REQUIRED)}")
        if not self.viewer.may_write:
            require_write(self.viewer, None)
        require_step(self.viewer, "raise", "raise a case")
        empty = np.zeros(0, dtype=np.int64)
        if len(rows) == 0:
            return FiledCases(empty, [], empty)
        batch = _checked_batch(self.session, self.viewer, rows.reset_index(drop=True))
        if self.calendar is None:
            self.calendar = working_calendar(self.session)
        # Deadlines: the clock file_case asks per case, once per distinct start.
        batch.due = due_times(batch.created, batch.categories, batch.severities, calendar=self.calendar)
        case_ids = np.zeros(batch.n, dtype=np.int64)
        case_nos: list[str] = []
        for start in range(0, batch.n, self.chunk_size):
            stop = min(start + self.chunk_size, batch.n)
            ids, numbers = self._write(batch, start, stop)
            case_ids[start:stop] = ids
            case_nos.extend(numbers)
            if progress is not None:
                progress(stop, batch.n)
        self._count(batch, case_ids, case_nos)
        return FiledCases(case_ids, case_nos, batch.grid_ids)

    def _write(self, batch: _CaseBatch, start: int, stop: int) -> tuple[list[int], list[str]]:
        """Cases and their ``raise`` rows of ``batch[start:stop]``, loaded as the database loads fastest."""
        part = slice(start, stop)
        numbers = unique_numbers(self.session, batch.days[part], CASE_PREFIX, Case.case_no).tolist()
        ids = next_ids(self.session, Case.__table__, stop - start)
        created = stored_times(batch.created.iloc[part], self.postgres)
        n = stop - start
        target = RULES["raise"].target.value
        load(self.session, Case.__table__, CASE_COLUMNS, list(zip(
            ids, numbers, plain(batch.kinds[part]), plain(batch.categories[part]), plain(batch.severities[part]),
            batch.titles[part].tolist(), batch.descriptions[part].tolist(),
            stored_points(batch.lon[part], batch.lat[part], self.postgres).tolist(),
            plain(batch.grid_ids[part]), plain(batch.shop_ids[part]), plain(batch.reporters[part]), [target] * n,
            created.tolist(), stored_times(batch.due.iloc[part], self.postgres).tolist(),
            [d or None for d in batch.departments[part]], [r or None for r in batch.requesters[part]],
            [0] * n, [1] * n, plain(batch.occupation[part]), strict=True)))
        details = stored_json({"actor": self.viewer.username})
        load(self.session, CaseHistory.__table__, HISTORY_COLUMNS, list(zip(
            ids, [1] * n, created.tolist(), [self.viewer.user_id] * n, ["raise"] * n, [None] * n, [target] * n,
            batch.notes[part].tolist(), [details] * n, strict=True)))
        self.written += n
        return ids, numbers

    def _count(self, batch: _CaseBatch, case_ids: np.ndarray, case_nos: list[str]) -> None:
        """The figures ``file_case`` keeps, once per call; what :meth:`finish` needs, remembered."""
        raised = pd.DataFrame({"g": batch.grid_ids, "c": [str(c) for c in batch.categories]}).value_counts()
        count_raised(self.session, {(int(g), c): int(n) for (g, c), n in raised.items()})
        # An open construction case makes construction checks due for its shop.
        self.renovating |= {int(s) for s, c in zip(batch.shop_ids, batch.categories, strict=True)
                            if s is not None and c == Category.CONSTRUCTION}
        for case_id, grid_id, case_no in zip(case_ids.tolist(), batch.grid_ids.tolist(), case_nos, strict=True):
            self.summaries.setdefault(grid_id, GridBatch()).add(case_id, case_no)

    def withdraw(self, case_ids: list[int]) -> None:
        """Delete cases this filer wrote (a later row of the file turned out to repeat them)."""
        if not case_ids:
            return
        for start in range(0, len(case_ids), CHUNK_SIZE):
            part = [int(c) for c in case_ids[start : start + CHUNK_SIZE]]
            gone = self.session.execute(select(Case.grid_id, type_coerce(Case.category, String), Case.case_no,
                                               Case.shop_id).where(Case.id.in_(part))).all()
            self.session.execute(delete(CaseHistory).where(CaseHistory.case_id.in_(part)))
            self.session.execute(delete(Case).where(Case.id.in_(part)))
            lost = Counter((int(g), str(c)) for g, c, _, _ in gone)
            count_raised(self.session, {key: -n for key, n in lost.items()})
            for grid_id, _category, case_no, shop_id in gone:
                self.summaries[int(grid_id)].drop(case_no)
                if shop_id is not None:
                    self.renovating.add(int(shop_id))
            self.written -= len(gone)

    def finish(self) -> None:
        """The batch's once-only work: checks due, the outbox's summaries, statistics."""
        if self.renovating:
            refresh_checks_due(self.session, self.renovating)
        announce_grid_batches(self.session, self.summaries, now=clock())
        if self.written >= ANALYZE_AFTER:
            analyze(self.session, [Case.__table__, CaseHistory.__table__])


__all__ = ["ANALYZE_AFTER", "CHUNK_SIZE", "CaseFiler", "FiledCases", "enum_column", "file_cases", "filing_times",
           "first_nul", "first_of", "refresh_checks_due", "refuse", "reporters_of", "text_of", "unique_numbers"]
