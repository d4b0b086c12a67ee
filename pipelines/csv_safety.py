"""CSV cells a spreadsheet cannot run: the one rule for every CSV Linpu writes for people.

Excel, WPS and LibreOffice read a cell starting with ``= + - @``, a tab or a
carriage return as a formula (OWASP "CSV injection"). Every CSV a person may
open — the exports, ``linpu grids list --format csv``, the ``*.rejected.csv``
of an import, the one-time passwords — passes its text cells through
:func:`neutralise_formula`, which puts a ``'`` before such a cell. Numbers
(numeric columns) stay numbers; a text cell is quoted even when it reads as a
negative number, since it came in as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

#: What a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Examples
    --------
    >>> neutralise_formula("=1+1"), neutralise_formula("-5"), neutralise_formula(-5), neutralise_formula("5")
    ("'=1+1", "'-5", -5, '5')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame, *, skip: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell neutralised; numeric, boolean and ``skip`` columns as they are."""
    out = frame.copy()
    kept = set(skip)
    for column in out.columns:
        dtype = out[column].dtype
        if column not in kept and (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            out[column] = [neutralise_formula(v) for v in out[column].tolist()]
    return out


__all__ = ["FORMULA_STARTS", "neutralise_formula", "spreadsheet_safe"]
