"""A columnar copy of every case's loop facts, for figures under any filter.

The loop summary under a date range or several categories cannot be read
from kept figures: the median time to close does not add up across months or
categories, so the database would count every case in the range on every
filter change (1.5 s for a year of a city's million cases).  Instead one
process keeps the few facts each figure needs of every case as columns in
memory (about 60 bytes a case) and answers any filter with vectorised
pandas in a few tenths of a second at most.  The numbers are those of
``stats.closed_figures`` over the same cases (tests hold both to it).

The copy follows the database by what only ever grows: every change to a
case writes a ``case_history`` row, raising one adds a case, a rating adds a
rating, a re-gridding makes a new generation.  Before each use
:meth:`CaseFactsCache.current` reads those four high-water marks (four
primary-key lookups) and re-reads only the cases behind marks that moved.
On PostgreSQL two transactions can commit ids out of order, so a change
could slip under a mark; there the copy is also read afresh in the
background once it is ``max_age`` old.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from governance.catalog import CaseState, Category, OccupationCheck
from governance.db import make_engine, session_factory
from governance.figures import FIGURES, on_time_condition
from governance.grids import current_generation_id
from governance.models import Case, CaseHistory, Rating
from governance.spatial import utc_text

_DAY_US = 86_400_000_000

# What a figure needs of a case; `created` and `closed` parsed to UTC timestamps.
_COLUMNS = ["case_id", "grid_id", "category", "state", "created", "closed", "on_time", "reopen_count", "occupation"]


@dataclass(frozen=True)
class Marks:
    """High-water marks of what changes cases; equal marks, same cases (see module doc)."""

    generation_id: int | None
    case_id: int
    history_id: int
    rating_id: int

    @classmethod
    def read(cls, session: Session) -> Marks:
        return cls(
            current_generation_id(session),
            session.scalar(select(func.coalesce(func.max(Case.id), 0))),
            session.scalar(select(func.coalesce(func.max(CaseHistory.id), 0))),
            session.scalar(select(func.coalesce(func.max(Rating.id), 0))),
        )


def _fetch(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows straight from the driver's cursor into a frame: a million rows through
    SQLAlchemy's result rows and column types cost seconds more than the query."""
    sql = str(statement.compile(dialect=session.bind.dialect, compile_kwargs={"literal_binds": True}))
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    finally:
        cursor.close()


def _read_cases(session: Session, where=(), *, rated_where=()) -> pd.DataFrame:
    frame = _fetch(session, select(
        Case.id, Case.grid_id, type_coerce(Case.category, String), type_coerce(Case.state, String),
        utc_text(Case.created_at), utc_text(Case.closed_at), on_time_condition(), Case.reopen_count,
        type_coerce(Case.occupation, String),
    ).where(*where), _COLUMNS).set_index("case_id")
    ratings = _fetch(
        session,
        select(Rating.case_id, func.sum(Rating.rating), func.count(Rating.id)).where(*rated_where)
        .group_by(Rating.case_id),
        ["case_id", "rating_sum", "rating_count"],
    ).set_index("case_id")
    frame = frame.join(ratings)
    frame[["rating_sum", "rating_count"]] = frame[["rating_sum", "rating_count"]].fillna(0).astype(np.int64)
    frame["category"] = pd.Categorical(frame["category"], categories=[c.value for c in Category])
    frame["state"] = pd.Categorical(frame["state"], categories=[s.value for s in CaseState])
    frame["occupation"] = pd.Categorical(frame["occupation"], categories=[o.value for o in OccupationCheck])
    is_closed = (frame["state"] == CaseState.CLOSED.value).to_numpy()
    for column in ("created", "closed"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    # Only a closed case's time counts, as in stats.closed_figures; the stored text
    # has whole microseconds, so the difference is exact.
    frame["closed"] = frame["closed"].where(is_closed)
    frame["close_us"] = (frame["closed"] - frame["created"]) // pd.Timedelta(microseconds=1)
    frame["on_time"] = frame["on_time"].fillna(False).astype(bool) & is_closed
    frame["reopen_count"] = frame["reopen_count"].astype(np.int64)
    frame["grid_id"] = frame["grid_id"].astype(np.int64)
    return frame


class CaseFacts:
    """Every case's loop facts at :attr:`marks`, indexed by case id.

    Examples
    --------
    >>> facts = CaseFacts.read(session)                              # doctest: +SKIP
    >>> facts.closed_figures(CaseFilter(categories=("gas", "electricity")))  # doctest: +SKIP
    """

    def __init__(self, cases: pd.DataFrame, marks: Marks, read_at: float) -> None:
        self.cases = cases
        self.marks = marks
        self.read_at = read_at

    @classmethod
    def read(cls, session: Session) -> CaseFacts:
        """Every case, read in one pass (a few seconds for a million cases)."""
        marks = Marks.read(session)
        return cls(_read_cases(session, [Case.id <= marks.case_id]), marks, time.monotonic())

    def updated(self, session: Session) -> CaseFacts:
        """This copy with the cases changed since its marks read again; itself if none did."""
        marks = Marks.read(session)
        if marks == self.marks:
            return self
        if marks.generation_id != self.marks.generation_id:
            return CaseFacts.read(session)  # re-gridding moves cases between grids wholesale
        # The ids first, each from a primary-key range (an OR of the three would scan the cases).
        changed = set(session.scalars(select(Case.id).where(Case.id > self.marks.case_id,
                                                            Case.id <= marks.case_id)))
        changed.update(session.scalars(select(CaseHistory.case_id).where(CaseHistory.id > self.marks.history_id)))
        changed.update(session.scalars(select(Rating.case_id).where(Rating.id > self.marks.rating_id)))
        changed = sorted(changed)
        if not changed:
            return CaseFacts(self.cases, marks, self.read_at)
        fresh = pd.concat([
            _read_cases(session, [Case.id.in_(chunk)], rated_where=[Rating.case_id.in_(chunk)])
            for chunk in (changed[i : i + 5000] for i in range(0, len(changed), 5000))
        ])
        # A new frame (copying a million rows takes ~0.1 s): a copy already handed out stays as it was.
        cases = pd.concat([self.cases.drop(fresh.index, errors="ignore"), fresh])
        return CaseFacts(cases, marks, self.read_at)

    def _matching(self, filters) -> pd.DataFrame:
        cases = self.cases
        if filters is None:
            return cases
        keep = np.ones(len(cases), dtype=bool)
        if filters.start:
            keep &= (cases["created"] >= pd.Timestamp(filters.start)).to_numpy()
        if filters.end:
            keep &= (cases["created"] < pd.Timestamp(filters.end)).to_numpy()
        if filters.categories:
            keep &= cases["category"].isin(list(filters.categories)).to_numpy()
        if filters.states:
            keep &= cases["state"].isin(list(filters.states)).to_numpy()
        if filters.occupation:
            keep &= cases["occupation"].isin(list(filters.occupation)).to_numpy()
        return cases[keep]

    def closed_figures(self, filters=None) -> pd.DataFrame:
        """Per grid (index grid_id): ``stats.FIGURES`` over the cases matching ``filters``
        (a ``filters.CaseFilter``; its grid codes are left to the caller)."""
        cases = self._matching(filters)
        closed = cases["state"] == CaseState.CLOSED.value
        by_grid = cases.assign(total=1, closed=closed.astype(np.int64),
                               closed_on_time=cases["on_time"].astype(np.int64)).groupby("grid_id")
        figures = by_grid[["total", "closed", "closed_on_time", "reopen_count", "rating_sum", "rating_count"]].sum()
        median = cases.loc[closed, "close_us"].groupby(cases.loc[closed, "grid_id"]).median()
        figures["median_days_to_close"] = (median / _DAY_US).reindex(figures.index).astype(float)
        return figures[FIGURES]

    def category_day_counts(self, filters=None, *, event: str = "raised") -> pd.DataFrame:
        """As ``trends.category_day_counts`` (category, day ``YYYY-MM-DD``, n), over every
        case matching ``filters`` (grid codes left to the caller)."""
        cases = self._matching(filters)
        moment = cases[{"raised": "created", "closed": "closed"}[event]]
        happened = moment.notna().to_numpy()
        # Whole UTC days since 1970 from the integer seconds: no Timestamp object per case.
        days = moment.dt.as_unit("s").array.asi8[happened] // 86_400
        keys = pd.DataFrame({"category": cases["category"].to_numpy()[happened], "day": days})
        frame = keys.groupby(["category", "day"], observed=True).size().rename("n").reset_index()
        if frame.empty:
            return pd.DataFrame({"category": [], "day": [], "n": []})
        frame["category"] = frame["category"].astype(str)
        frame["day"] = pd.to_datetime(frame["day"], unit="D").dt.strftime("%Y-%m-%d")
        return frame


def read_in_subprocess(database_url: str, *, timeout_s: float = 600.0) -> CaseFacts:
    """:meth:`CaseFacts.read` in a child Python process, handed back as a pickle.

    Reading a million cases keeps one interpreter busy for seconds; in the
    dashboard's server that would slow every user's page by holding the GIL.
    A child process, at a lower priority, uses another core instead, and the
    server only loads the result (a few hundredths of a second).  The URL goes
    by environment, not argument, so a password is not shown in the process list.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="linpu-facts-") as folder:
        out = Path(folder) / "facts.pickle"
        done = subprocess.run(
            [sys.executable, "-m", "governance.facts", str(out)],
            env={**os.environ, _URL_VARIABLE: database_url}, capture_output=True, text=True,
            timeout=timeout_s, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"reading the case facts failed: {done.stderr.strip()[-2000:]}")
        with out.open("rb") as file:
            facts = pickle.load(file)  # written by our own child just now
    facts.read_at = started
    return facts


_URL_VARIABLE = "LINPU_FACTS_DATABASE_URL"


def _main(out: str) -> None:
    # This file runs as __main__ here: pickle the classes under their importable name.
    from governance.facts import CaseFacts as Importable

    # Behind whatever serves users on this machine (the server's own pages, a browser).
    os.nice(10)
    engine = make_engine(os.environ[_URL_VARIABLE])
    with session_factory(engine)() as session:
        facts = Importable.read(session)
    engine.dispose()
    with open(out, "wb") as file:
        pickle.dump(facts, file, protocol=pickle.HIGHEST_PROTOCOL)


class CaseFactsCache:
    """One process's :class:`CaseFacts`, brought up to date before each use; thread-safe.

    ``session_factory`` opens the sessions of background work; ``read_all``
    makes a whole new copy (by default :meth:`CaseFacts.read` in this
    process; the dashboard passes :func:`read_in_subprocess`).  Should a
    background read fail, the first use reads in this process instead.
    """

    def __init__(self, session_factory: Callable[[], Session], *,
                 read_all: Callable[[], CaseFacts] | None = None, max_age_s: float = 600.0) -> None:
        self._factory = session_factory
        self._read_all = read_all or self._read_here
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._facts: CaseFacts | None = None
        #: The background full read, while it runs (and after, until the next).
        self.reread: threading.Thread | None = None

    def _read_here(self) -> CaseFacts:
        with self._factory() as session:
            return CaseFacts.read(session)

    def _start_reread(self) -> None:  # under the lock
        if not (self.reread and self.reread.is_alive()):
            self.reread = threading.Thread(target=self._reread, daemon=True, name="linpu-case-facts")
            self.reread.start()

    def warm(self) -> None:
        """Start reading in the background if nothing is read yet."""
        with self._lock:
            if self._facts is None:
                self._start_reread()

    def current(self, session: Session) -> CaseFacts:
        reading = self.reread
        if self._facts is None and reading is not None:
            reading.join()  # the first read is under way: wait for it rather than read twice
        with self._lock:
            if self._facts is None:
                # None started: read the usual way; one started and failed: read here.
                self._facts = self._read_all() if reading is None else self._read_here()
            self._facts = self._facts.updated(session)
            facts = self._facts
            # SQLite has one writer at a time, so its ids commit in order: no reread needed.
            if (session.bind.dialect.name != "sqlite"
                    and time.monotonic() - facts.read_at > self._max_age_s):
                self._start_reread()
        return facts

    def _reread(self) -> None:
        try:
            fresh = self._read_all()
        except Exception as exc:  # said and survived: the next use reads again
            print(f"linpu: {exc}; the next use reads the case facts in the server", file=sys.stderr)
            return
        with self._lock, self._factory() as session:
            self._facts = fresh.updated(session)  # what committed while it read


if __name__ == "__main__":
    _main(sys.argv[1])
