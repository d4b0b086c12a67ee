"""Recording many hazard checks at once: the batch form of ``governance.workflow.record_check``.

The same outcome as ``record_check`` row by row: the same refusals (with a
``position``, as in :mod:`governance.filing`), the same check numbers
(``K<YYYYMMDD>-<8 hex>``), a failed check raising its hazard_check case at
its shop, in its shop's grid, through :class:`governance.filing.CaseFiler`,
and the checks due of every shop checked recomputed once per batch.  Checks
are loaded as :mod:`governance.bulk_load` loads (COPY, or one prepared
statement), with ids drawn first so that a check repeated later in a
streamed file can be withdrawn again before the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from governance.bulk_load import (
    analyze,
    is_postgres,
    load,
    next_ids,
    plain,
    stored_json,
    stored_times,
)
from governance.catalog import CHECK_CATEGORIES, CaseKind, Category
from governance.checklists import evaluate
from governance.errors import NUL_REFUSAL, NotFoundError, PermissionDenied, ValidationError
from governance.filing import (
    ANALYZE_AFTER,
    CHUNK_SIZE,
    CaseFiler,
    enum_column,
    filing_times,
    first_nul,
    first_of,
    refresh_checks_due,
    refuse,
    reporters_of,
    text_of,
    unique_numbers,
)
from governance.models import HazardCheck, Shop
from governance.permissions import Viewer, require_duty, require_write
from governance.workflow import failed_check_case, require_step

CHECK_COLUMNS = ("id", "check_no", "shop_id", "category", "answers", "passed", "inspector_id", "performed_at", "case_id",
                 "note")
CHECK_PREFIX = "K"
CHECK_REQUIRED = ("shop_code", "category", "answers", "performed_at")


@dataclass
class RecordedChecks:
    """What :func:`record_checks` wrote, in the order of the rows given."""

    check_nos: list[str] = field(repr=False)
    case_ids: np.ndarray  # the case a failed check raised; 0 for a pass
    check_ids: np.ndarray = field(default=None, repr=False)

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
    """Record every row as a hazard check, as ``governance.workflow.record_check`` would one by one.

    ``rows`` has the columns ``shop_code``, ``category`` (a check category),
    ``answers`` (``{item code: complies}``, every item answered) and
    ``performed_at`` (aware datetimes, ``record_check``'s ``now``), and
    optionally ``note`` and ``inspector_id`` (who checked, when not the viewer).

    A failed check raises a hazard_check case at its shop, in its shop's grid,
    with the worst severity of the failed items, through :class:`CaseFiler`
    (same title, description and history note as ``record_check``).  The
    checks due of every shop checked are recomputed once.  Refusals as
    ``record_check`` (ValidationError, NotFoundError, PermissionDenied), with
    ``position``; nothing is written then.  :class:`CheckRecorder` records a
    stream of chunks as one batch.
    """
    recorder = CheckRecorder(session, viewer, chunk_size=chunk_size)
    recorded = recorder.record(rows, progress=progress)
    recorder.finish()
    return recorded


@dataclass
class _CheckBatch:
    performed: pd.Series
    days: np.ndarray
    categories: np.ndarray
    codes: np.ndarray
    shops: dict[str, tuple]
    answers: list[dict]
    outcomes: list
    notes: np.ndarray

    @property
    def shop_ids(self) -> np.ndarray:
        return np.array([self.shops[c][0] for c in self.codes], dtype=np.int64)

    @property
    def grid_ids(self) -> np.ndarray:
        return np.array([self.shops[c][1] for c in self.codes], dtype=np.int64)


def _checked_checks(session: Session, viewer: Viewer, rows: pd.DataFrame) -> _CheckBatch:
    """``record_check``'s checks on every row, check by check, the first failing row named."""
    performed, days = filing_times(rows["performed_at"])
    categories = enum_column(Category, rows["category"].to_numpy(dtype=object), "category")
    for i, category in enumerate(categories):
        if category not in CHECK_CATEGORIES:
            raise refuse(ValidationError, i, f"category={category.value!r} has no checklist; hazard checks are: "
                          + ", ".join(c.value for c in CHECK_CATEGORIES))
        try:
            require_duty(viewer, category)
        except PermissionDenied as exc:
            raise refuse(PermissionDenied, i, str(exc)) from None
    codes = text_of(rows, "shop_code")
    shops = _shops_of(session, pd.unique(codes).tolist())
    for i, code in enumerate(codes):
        if code not in shops:
            raise refuse(NotFoundError, i, f"shop_code={code!r}: no such shop")
        if shops[code][1] is None:
            raise refuse(ValidationError, i, f"shop {code} lies in no grid; rebuild the grids before checking it")
    grid_ids = np.array([shops[c][1] for c in codes], dtype=np.int64)
    for grid_id in pd.unique(grid_ids):
        try:
            require_write(viewer, int(grid_id))
        except PermissionDenied as exc:
            raise refuse(PermissionDenied, first_of(grid_ids == grid_id), str(exc)) from None
    answers, outcomes = [], []
    for i, (category, given) in enumerate(zip(categories, rows["answers"], strict=True)):
        try:
            outcomes.append(evaluate(category, {str(k): bool(v) for k, v in given.items()}))
        except ValueError as exc:
            raise refuse(ValidationError, i, f"answers: {exc}") from None
        answers.append(dict(given))
    notes = text_of(rows, "note")
    if (i := first_nul(notes)) is not None:
        raise refuse(ValidationError, i, f"note {NUL_REFUSAL}")
    return _CheckBatch(performed, days, categories, codes, shops, answers, outcomes, notes)


def _shops_of(session: Session, wanted: list[str]) -> dict[str, tuple]:
    shops: dict[str, tuple] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        for code, shop_id, grid_id, geometry in session.execute(
            select(Shop.shop_code, Shop.id, Shop.grid_id, Shop.geometry)
            .where(Shop.shop_code.in_(wanted[start : start + CHUNK_SIZE]))
        ).all():
            shops[code] = (shop_id, grid_id, geometry)
    return shops


class CheckRecorder:
    """Records hazard checks chunk after chunk in the caller's transaction, as one batch.

    The cases of failed checks go through one :class:`CaseFiler`; :meth:`finish`
    recomputes the checks due of every shop checked, once, and finishes the filer.
    """

    def __init__(self, session: Session, viewer: Viewer, *, chunk_size: int = CHUNK_SIZE):
        self.session, self.viewer, self.chunk_size = session, viewer, chunk_size
        self.cases = CaseFiler(session, viewer, chunk_size=chunk_size)
        self.postgres = is_postgres(session)
        self.checked: set[int] = set()
        self.written = 0

    def record(self, rows: pd.DataFrame, *, progress: Callable[[int, int], None] | None = None) -> RecordedChecks:
        """Check and write ``rows`` (the columns of :func:`record_checks`); refusals as there."""
        missing = [c for c in CHECK_REQUIRED if c not in rows]
        if missing:
            raise ValidationError(f"record_checks: missing columns {missing}; required: {', '.join(CHECK_REQUIRED)}")
        n = len(rows)
        if n == 0:
            return RecordedChecks([], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        rows = rows.reset_index(drop=True)
        require_step(self.viewer, "raise", "record checks (a failed one raises a case)")
        batch = _checked_checks(self.session, self.viewer, rows)
        numbers = unique_numbers(self.session, batch.days, CHECK_PREFIX, HazardCheck.check_no)
        case_ids = self._failed_cases(rows, batch, numbers)
        inspectors = reporters_of(rows.rename(columns={"inspector_id": "reporter_id"}), self.viewer)
        shop_ids = batch.shop_ids
        check_ids = np.zeros(n, dtype=np.int64)
        for start in range(0, n, self.chunk_size):
            part = slice(start, min(start + self.chunk_size, n))
            check_ids[part] = next_ids(self.session, HazardCheck.__table__, part.stop - start)
            load(self.session, HazardCheck.__table__, CHECK_COLUMNS, list(zip(
                check_ids[part].tolist(), numbers[part].tolist(), shop_ids[part].tolist(), plain(batch.categories[part]),
                [stored_json(a) for a in batch.answers[part]], [bool(o.passed) for o in batch.outcomes[part]],
                plain(inspectors[part]), stored_times(batch.performed.iloc[part], self.postgres).tolist(),
                [int(c) or None for c in case_ids[part]], batch.notes[part].tolist(), strict=True)))
            if progress is not None:
                progress(part.stop, n)
        self.checked |= set(shop_ids.tolist())
        self.written += n
        return RecordedChecks(numbers.tolist(), case_ids, check_ids)

    def _failed_cases(self, rows: pd.DataFrame, batch: _CheckBatch, numbers: np.ndarray) -> np.ndarray:
        """The cases of failed checks, as record_check raises them; each check's case id (0: passed)."""
        case_ids = np.zeros(len(rows), dtype=np.int64)
        where = np.flatnonzero([not o.passed for o in batch.outcomes])
        if not len(where):
            return case_ids
        raised = [failed_check_case(batch.categories[i], batch.outcomes[i], batch.notes[i], numbers[i])
                  for i in where]
        points = [batch.shops[batch.codes[i]][2] for i in where]
        filed = self.cases.file(pd.DataFrame({
            "kind": CaseKind.HAZARD_CHECK, "category": batch.categories[where],
            "severity": [batch.outcomes[i].severity for i in where],
            "title": [r[0] for r in raised], "description": [r[1] for r in raised],
            "lon": [p.x for p in points], "lat": [p.y for p in points],
            "shop_code": batch.codes[where], "grid_id": batch.grid_ids[where], "history_note": [r[2] for r in raised],
            "created_at": rows["performed_at"].iloc[where].reset_index(drop=True),
        }))
        case_ids[where] = filed.case_ids
        return case_ids

    def withdraw(self, check_ids: list[int]) -> None:
        """Delete checks this recorder wrote, and the cases they raised (a later row repeated them)."""
        for start in range(0, len(check_ids), CHUNK_SIZE):
            part = [int(i) for i in check_ids[start : start + CHUNK_SIZE]]
            raised = self.session.scalars(select(HazardCheck.case_id).where(HazardCheck.id.in_(part))).all()
            # Plain SQL: the ORM's bulk-write hook would mark every shop's checks due stale;
            # finish() recomputes those of the shops checked.
            self.session.execute(text("DELETE FROM hazard_checks WHERE id IN :ids")
                                 .bindparams(bindparam("ids", expanding=True)), {"ids": part})
            self.cases.withdraw([c for c in raised if c is not None])
            self.written -= len(part)

    def finish(self) -> None:
        """The checks due of the shops checked, once; the failed checks' cases announced."""
        refresh_checks_due(self.session, self.checked)
        self.cases.finish()
        if self.written >= ANALYZE_AFTER:
            analyze(self.session, [HazardCheck.__table__])


__all__ = ["CheckRecorder", "RecordedChecks", "record_checks"]
