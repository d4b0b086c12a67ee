"""A register's words about a shop beyond its name and place: trade, uses gas, address, phone.

Trade is optional and read as the office writes it (:mod:`governance.trades`):
the word is kept as the shop's trade label, the Linpu trade is the table's
reading of it, and a word no rule knows is kept and counted, never refused.
A 用气 (uses gas) column, when a row fills it, decides the gas check.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from governance.trades import accepted_words, label_of, trade_of
from pipelines.validation import FALSE_WORDS, TRUE_WORDS, Rows, text

#: The stored fields these words fill, in the order of the shop table.
SHOP_WORDS = ("trade", "trade_label", "uses_gas", "address", "phone")
#: Unknown trade words named in the report's note.
NAMED_UNKNOWN = 10


def _uses_gas(rows: Rows, values: pd.Series) -> pd.Series:
    """True, False, or None for an empty cell (the trade decides)."""
    lowered = values.astype(str).str.strip().str.lower()
    result = pd.Series([None] * len(values), index=values.index, dtype=object)
    result[lowered.isin(TRUE_WORDS)] = True
    result[lowered.isin(FALSE_WORDS - {""})] = False
    bad = ~(lowered.isin(TRUE_WORDS) | lowered.isin(FALSE_WORDS))
    for row, value in zip(values.index[bad], values[bad], strict=True):
        rows.add(row, "uses_gas", f"{value!r} 不是 是/否 / is not yes or no (是/否, true/false, 1/0); "
                 "留空则按行业判断 / leave it empty to let the trade decide")
    return result


def _limited(rows: Rows, values: pd.Series, field_name: str, limit: int) -> pd.Series:
    values = values.astype(str).str.strip()
    for row in values.index[values.str.len() > limit]:
        rows.add(row, field_name, f"超过 {limit} 个字符 / longer than {limit} characters")
    return _none_if_empty(values)


def _none_if_empty(values: pd.Series) -> pd.Series:
    return pd.Series([v or None for v in values], index=values.index, dtype=object)


def shop_words(rows: Rows, frame: pd.DataFrame, columns: dict[str, str]) -> dict[str, pd.Series]:
    """The register's trade, trade label, uses-gas, address and phone of every row (None when absent)."""
    labels = text(frame, columns.get("trade")).astype(str).str.strip()
    for row in labels.index[labels.str.len() > 64]:
        rows.add(row, "trade", "超过 64 个字符 / longer than 64 characters; accepted words include "
                 + accepted_words())
    trades = pd.Series([None if t is None else t.value for t in map(trade_of, labels)], index=frame.index,
                       dtype=object)
    gas = (_uses_gas(rows, text(frame, columns["uses_gas"])) if "uses_gas" in columns
           else pd.Series([None] * len(frame), index=frame.index, dtype=object))
    return {
        "trade": trades, "trade_label": pd.Series([label_of(w) for w in labels], index=frame.index, dtype=object), "uses_gas": gas,
        "address": _limited(rows, text(frame, columns.get("address")), "address", 255),
        "phone": _limited(rows, text(frame, columns.get("phone")), "phone", 32),
    }


def unknown_words_note(incoming: pd.DataFrame) -> list[str]:
    """A note naming the trade words no rule knows (kept as labels), most frequent first."""
    unknown = incoming.loc[incoming["trade"].isna() & incoming["trade_label"].notna(), "trade_label"]
    if unknown.empty:
        return []
    counted = Counter(unknown).most_common(NAMED_UNKNOWN)
    named = "、".join(f"{word} ({n})" for word, n in counted)
    return [f"{len(unknown)} 家商铺的行业词不在对照表中，已原样保留为行业标签 / {len(unknown)} shops have a "
            f"trade word the table does not know, kept as their trade label: {named}"]


def words_of(row: Any) -> dict[str, Any]:
    """The stored values of a planned shop row (a namedtuple of the ingest's frame)."""
    values = {name: getattr(row, name) for name in SHOP_WORDS}
    values["uses_gas"] = None if values["uses_gas"] is None else bool(values["uses_gas"])
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in values.items()}


__all__ = ["SHOP_WORDS", "shop_words", "unknown_words_note", "words_of"]
