"""A file of findings or checks streamed through validation and writing, a chunk at a time.

``linpu ingest cases|checks`` read a file in chunks (``readers.read_chunks``);
each chunk is validated (its rows' problems found, the good rows prepared) and
its good rows written at once, all in the ingest's one transaction.  What
holds across chunks stays small: the problems, the refused rows as they came,
64-bit hashes of the values that must not repeat (:class:`Repeats`), and each
written row's id.  So a million-row file takes about the memory of one chunk.

Validation of the next chunk runs in a worker thread while the current one
is written (:func:`run`), so the parsing and checks overlap the database's
work (sqlite3 and psycopg release the interpreter while the database works);
the worker touches no database session.

What the whole-file ingest guaranteed stays: a file with a refused row writes
nothing (unless ``skip_invalid``): the rows already written are rolled back
with the transaction; ``dry_run`` writes nothing; a value repeated anywhere
in the file refuses every row holding it, the earlier ones too, with the same
message.  Under ``skip_invalid`` an earlier row that was already written when
a later one repeats it is withdrawn again before the commit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from governance.db import transaction
from pipelines.ingest_report import IngestReport
from pipelines.readers import Problem, RawTable
from pipelines.validation import Rows, swap_note


class Repeats:
    """Values that must not repeat anywhere in a file, seen a chunk at a time.

    Keeps a sorted array of 64-bit hashes with the first row holding each, and,
    for the values found repeated, every row holding them.  A hash collision
    (one in about 10^19 pairs) would refuse two different rows as repeats.
    """

    def __init__(self, field_name: str):
        self.field = field_name
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.rows = np.zeros(0, dtype=np.int64)
        self.groups: dict[int, tuple[str, list[int]]] = {}

    def add(self, values: pd.Series) -> None:
        """Note ``values`` (indexed by file row; blanks are skipped)."""
        present = values[values != ""]
        if present.empty:
            return
        hashes = pd.util.hash_pandas_object(present.astype(str), index=False).to_numpy()
        rows = present.index.to_numpy(dtype=np.int64)
        where = np.searchsorted(self.hashes, hashes)
        earlier = (where < len(self.hashes)) & (self.hashes[np.minimum(where, len(self.hashes) - 1)] == hashes) \
            if len(self.hashes) else np.zeros(len(hashes), dtype=bool)
        repeated = earlier | pd.Series(hashes).duplicated(keep=False).to_numpy()
        for i in np.flatnonzero(repeated):
            key = int(hashes[i])
            if key not in self.groups:
                first = [int(self.rows[where[i]])] if earlier[i] else []
                self.groups[key] = (str(present.iloc[i]), first)
            self.groups[key][1].append(int(rows[i]))
        fresh = ~earlier & ~pd.Series(hashes).duplicated(keep="first").to_numpy()
        self.hashes = np.concatenate([self.hashes, hashes[fresh]])
        self.rows = np.concatenate([self.rows, rows[fresh]])
        order = np.argsort(self.hashes, kind="stable")
        self.hashes, self.rows = self.hashes[order], self.rows[order]

    def problems(self) -> list[Problem]:
        """Every row of every repeated value, naming the others, as ``refuse_duplicates_in_file`` does."""
        out = []
        for value, rows in self.groups.values():
            rows = sorted(rows)
            for row in rows:
                others = ", ".join(str(o) for o in rows if o != row)
                out.append(Problem(row, self.field, f"{value!r} is repeated on row {others}"))
        return out


class Job(Protocol):
    """What an ingest of one kind of row does with the stream.

    ``check`` runs in the worker thread and must not touch the session; the
    others run in the caller's thread, in the transaction.
    """

    repeats: list[Repeats]

    def start(self, session: Session, table: RawTable, report: IngestReport) -> None: ...

    def check(self, table: RawTable) -> tuple[Rows, Any]: ...

    def verify(self, session: Session, table: RawTable, rows: Rows, checked: Any) -> Any: ...

    def write(self, session: Session, good: np.ndarray, prepared: Any) -> np.ndarray: ...

    def withdraw(self, session: Session, ids: list[int]) -> None: ...

    def count(self, report: IngestReport, good: int, late: set[int]) -> None: ...

    def finish(self, session: Session) -> None: ...


@dataclass
class Stream:
    """What holds across chunks: refusals, the refused rows as they came, and the rows written."""

    report: IngestReport
    writing: bool
    rejected: list[pd.DataFrame] = field(default_factory=list)
    written_rows: list[np.ndarray] = field(default_factory=list)
    written_ids: list[np.ndarray] = field(default_factory=list)
    notes: dict[str, None] = field(default_factory=dict)
    good: int = 0
    late: set[int] = field(default_factory=set)

    def take(self, table: RawTable, rows: Rows) -> np.ndarray:
        """Record a checked chunk's problems and refused rows; the mask of its good rows."""
        self.report.rows += len(table.frame)
        self.report.problems.extend(rows.problems)
        for note in table.notes:
            self.notes.setdefault(note)
        good = rows.good_mask()
        if not good.all():
            self.rejected.append(raw_rows(table, ~good))
        self.good += int(good.sum())
        return good

    def may_write(self) -> bool:
        return self.writing and (self.report.skip_invalid or not self.report.problems)


def raw_rows(table: RawTable, mask: np.ndarray) -> pd.DataFrame:
    frame = table.frame[mask].copy()
    if table.geometry is not None:
        frame["geometry_wkt"] = [g.wkt if g is not None else "" for g in table.geometry[mask]]
    return frame


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if ctypes.util.find_library("c") else None


def release_memory() -> None:
    """Hand the memory of a finished chunk back to the system.

    pandas keeps text in Arrow arrays, whose allocator (mimalloc) keeps freed
    pages per thread, and glibc keeps freed blocks in per-thread arenas: with
    a reader thread and a writer, a million-row file would otherwise hold on
    to every chunk's worth it ever touched (measured: RSS up 40 MB per
    100,000 rows while Python's own objects stayed flat).
    """
    pyarrow.default_memory_pool().release_unused()
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


class _Undo(Exception):
    """Leave the transaction without committing (a refused file, a dry run)."""


def run(engine: Engine, chunks: Iterator[RawTable], job: Job, report: IngestReport, *, dry_run: bool,
        progress: Callable[[str, int, int], None], reread: Callable[[], Iterator[RawTable]]) -> IngestReport:
    """Stream ``chunks`` through ``job`` in one transaction; the report of the whole file."""
    stream = Stream(report, writing=not dry_run)
    report.rows = 0
    try:
        with transaction(engine) as session, ThreadPoolExecutor(1) as worker:
            _through(session, chunks, job, stream, worker, progress)
            _late_repeats(session, job, stream)
            _finish_report(report, stream, reread)
            job.count(report, stream.good, stream.late)
            if dry_run or report.refused:
                raise _Undo
            job.finish(session)
            report.written = True
    except _Undo:
        pass
    return report


def _read_and_check(chunks: Iterator[RawTable], job: Job):
    table = next(chunks, None)
    return table, None if table is None else job.check(table)


def _through(session: Session, chunks: Iterator[RawTable], job: Job, stream: Stream, worker: ThreadPoolExecutor,
             progress: Callable[[str, int, int], None]) -> None:
    """Read and check chunk k + 1 in the worker while chunk k is verified against the database and written."""
    first = next(chunks)
    job.start(session, first, stream.report)
    pending = worker.submit(lambda: (first, job.check(first)))
    while True:
        current, checked = pending.result()
        if current is None:
            return
        pending = worker.submit(_read_and_check, chunks, job)
        rows, parsed = checked
        prepared = job.verify(session, current, rows, parsed)
        good = stream.take(current, rows)
        if stream.may_write() and good.any():
            ids = job.write(session, good, prepared)
            stream.written_rows.append(current.frame.index.to_numpy(dtype=np.int64)[good])
            stream.written_ids.append(np.asarray(ids, dtype=np.int64))
        progress("ingest", stream.report.rows, stream.report.rows)
        release_memory()


def _late_repeats(session: Session, job: Job, stream: Stream) -> None:
    """Refuse every row of a value repeated across chunks; withdraw those already written."""
    already = {p.row for p in stream.report.problems}
    late: set[int] = set()
    for repeats in job.repeats:
        found = repeats.problems()
        stream.report.problems.extend(found)
        late |= {p.row for p in found} - already
    stream.good -= len(late)
    stream.late = late
    if not late or not stream.written_rows or not stream.may_write():
        return
    rows, ids = np.concatenate(stream.written_rows), np.concatenate(stream.written_ids)
    gone = ids[np.isin(rows, list(late))]
    job.withdraw(session, gone.tolist())


def _finish_report(report: IngestReport, stream: Stream, reread: Callable[[], Iterator[RawTable]]) -> None:
    report.notes.extend(n for n in stream.notes if n not in report.notes)
    note = swap_note(report.problems, report.rows)
    if note:
        report.notes.append(note)
    if not report.problems:
        return
    frames = list(stream.rejected)
    if stream.late:  # refused after their chunk had gone: read again
        frames += [raw_rows(t, t.frame.index.isin(list(stream.late))) for t in reread()]
    reasons: dict[int, list[str]] = {}
    for p in sorted(report.problems, key=lambda p: p.row):
        reasons.setdefault(p.row, []).append(f"{p.field}: {p.message}")
    frame = pd.concat(frames) if frames else pd.DataFrame()
    frame = frame[~frame.index.duplicated()].sort_index()
    frame = frame.loc[[r for r in frame.index if r in reasons]]
    frame.insert(0, "row", frame.index.to_numpy())
    frame["reason"] = ["; ".join(reasons[r]) for r in frame.index]
    report.rejected = frame.reset_index(drop=True)


__all__ = ["Job", "Repeats", "Stream", "raw_rows", "release_memory", "run"]
