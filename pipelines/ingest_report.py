"""The report every file import returns: rows, problems, counts, notes, and a whole-file refusal.

A file is refused when any row is refused (unless ``skip_invalid``) or when a
guard refuses the file as a whole (``refusal``, e.g. a register that would
close too many shops, see :mod:`pipelines.register_guard`); either way nothing
is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipelines.csv_safety import spreadsheet_safe
from pipelines.readers import Problem


@dataclass
class IngestReport:
    """What an ingest found and did; ``refused`` means nothing was written."""

    kind: str
    source: str
    rows: int
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    skip_invalid: bool = False
    written: bool = False
    rejected: pd.DataFrame | None = None
    #: Why the whole file is refused although every row is valid (nothing written).
    refusal: str | None = None

    @property
    def rejected_rows(self) -> int:
        return len({p.row for p in self.problems})

    @property
    def accepted_rows(self) -> int:
        return self.rows - self.rejected_rows

    @property
    def refused(self) -> bool:
        return (bool(self.problems) and not self.skip_invalid) or self.refusal is not None

    def problem_lines(self, limit: int | None = None) -> list[str]:
        ordered = sorted(self.problems, key=lambda p: p.row)
        lines = [p.text(self.source) for p in ordered[:limit]]
        if limit is not None and len(ordered) > limit:
            lines.append(f"… and {len(ordered) - limit} more problems")
        return lines

    def summary(self) -> str:
        counted = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in self.counts.items())
        head = f"{self.source}: {self.rows} rows, {self.accepted_rows} valid, {self.rejected_rows} refused"
        if self.refusal is not None:
            return f"{head}; file refused, nothing written: {self.refusal}"
        if self.refused:
            return f"{head}; file refused, nothing written (fix the rows or use --skip-invalid)"
        verb = "would write" if self.dry_run else "written"
        return f"{head}; {verb}: {counted}" if counted else head

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "rows": self.rows,
            "accepted_rows": self.accepted_rows,
            "rejected_rows": self.rejected_rows,
            "refused": self.refused,
            "dry_run": self.dry_run,
            "written": self.written,
            "counts": dict(self.counts),
            "notes": list(self.notes),
            "refusal": self.refusal,
            "problems": [
                {"row": p.row, "field": p.field, "message": p.message}
                for p in sorted(self.problems, key=lambda p: p.row)
            ],
        }

    def rejected_csv(self) -> bytes:
        """The refused rows as they came, plus ``row`` and ``reason``: UTF-8 with BOM for Excel.

        A person opens it in a spreadsheet, so a cell that would run as a formula gets a
        leading ``'`` (:func:`pipelines.csv_safety.neutralise_formula`)."""
        frame = self.rejected if self.rejected is not None else pd.DataFrame()
        return spreadsheet_safe(frame).to_csv(index=False).encode("utf-8-sig")


__all__ = ["IngestReport"]
