"""Pure pandas shaping of query results for display: labels, ordering, escaping.

No SQL and no geometry here; each function takes frames the queries return
and gives a frame ready for ``st.dataframe``.  Tested without Streamlit.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pandas as pd

from dashboard.i18n import translate
from governance.catalog import OPEN_STATES
from governance.clock import district_zone, local_text


def _label(language: str, prefix: str):
    return lambda value: translate(f"{prefix}.{value}", language) if pd.notna(value) and value != "" else ""


def escape_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """HTML-escape user-typed columns (st.dataframe shows text, but exports and
    tooltips may not); kept for everything that leaves the page as HTML."""
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = out[column].map(lambda v: html.escape(str(v)) if pd.notna(v) else "")
    return out


def deadline(cases: pd.DataFrame) -> pd.Series:
    """The deadline that matters now: the follow-up's in follow-up, else the resolve deadline."""
    if cases.empty:
        return pd.Series(dtype="datetime64[ns, UTC]")
    follow = cases["state"].astype(str) == "follow_up"
    due = pd.to_datetime(cases["due_at"], utc=True)
    if "follow_up_due_at" in cases:
        due = due.where(~follow, pd.to_datetime(cases["follow_up_due_at"], utc=True))
    return due


def today_list(cases: pd.DataFrame, checks_due: pd.DataFrame, *, language: str,
               now: datetime | None = None) -> pd.DataFrame:
    """Checks due by the end of today and open cases, soonest (most overdue) deadline first.

    Columns: what, shop, deadline, overdue, case_no (empty for checks).
    """
    now = now or datetime.now(UTC)
    end_of_day = pd.Timestamp(now).tz_convert(district_zone()).normalize() + pd.Timedelta(days=1)
    rows = []
    if not checks_due.empty:
        due = checks_due[pd.to_datetime(checks_due["due_at"], utc=True) < end_of_day]
        for row in due.itertuples():
            rows.append({
                "what": translate("leader.todo_check", language,
                                  category=translate(f"category.{row.category}", language),
                                  shop=row.shop_name),
                "shop": row.shop_name,
                "deadline": pd.Timestamp(row.due_at),
                "overdue": bool(row.overdue),
                "case_no": "",
            })
    if not cases.empty:
        open_cases = cases[cases["state"].astype(str).isin([s.value for s in OPEN_STATES])]
        deadlines = deadline(open_cases)
        for row, when in zip(open_cases.itertuples(), deadlines, strict=True):
            rows.append({
                "what": f"{translate(f'state.{row.state}', language)} · {row.title}",
                "shop": row.shop_name if isinstance(row.shop_name, str) else "",
                "deadline": when,
                "overdue": bool(row.overdue),
                "case_no": row.case_no,
            })
    frame = pd.DataFrame(rows, columns=["what", "shop", "deadline", "overdue", "case_no"])
    if frame.empty:
        return frame
    frame["deadline"] = pd.to_datetime(frame["deadline"], utc=True)
    return frame.sort_values(["deadline", "case_no"], kind="stable").reset_index(drop=True)


def case_table(cases: pd.DataFrame, *, language: str) -> pd.DataFrame:
    """Cases with translated labels, for st.dataframe (which shows text as text)."""
    columns = ["case_no", "title", "category", "occupation", "severity", "state", "grid_code", "shop_name",
               "created_at", "due_at", "overdue"]
    out = pd.DataFrame(cases.drop(columns="geometry", errors="ignore"))[[c for c in columns if c in cases]].copy()
    if "shop_name" in out:
        out["shop_name"] = out["shop_name"].fillna("")
    if "occupation" in out and out["occupation"].isna().all():
        out = out.drop(columns="occupation")  # no road-occupation finding listed: no empty column
    for column, prefix in (("category", "category"), ("severity", "severity"), ("state", "state")):
        if column in out:
            out[column] = out[column].astype(str).map(_label(language, prefix))
    if "occupation" in out:
        out["occupation"] = out["occupation"].map(_label(language, "occupation"))
    for column in ("created_at", "due_at"):
        if column in out:
            out[column] = local_text(out[column]).to_numpy()
    return out.rename(columns={c: translate("col.shop" if c == "shop_name" else f"col.{c}", language)
                               for c in out.columns})


def ranking(summary: pd.DataFrame, *, language: str) -> tuple[pd.DataFrame, int]:
    """Rankable grids, worst first, and the number of grids left unranked."""
    columns = ["code", "n_shops", "open_per_10_shops", "open", "overdue", "on_time_rate",
               "median_days_to_close", "reopen_count", "mean_rating"]
    if summary.empty:
        return pd.DataFrame(columns=["rank", *columns]), 0
    rankable = summary[summary["rankable"].astype(bool)] if "rankable" in summary else summary
    ranked = rankable.sort_values(["open_per_10_shops", "overdue", "code"], ascending=[False, False, True])
    out = ranked[[c for c in columns if c in ranked]].reset_index(drop=True)
    for column, digits in (("open_per_10_shops", 1), ("median_days_to_close", 1), ("mean_rating", 1)):
        if column in out:
            out[column] = out[column].astype(float).round(digits)
    if "on_time_rate" in out:
        out["on_time_rate"] = (out["on_time_rate"].astype(float) * 100).round(0)
    out.insert(0, "rank", range(1, len(out) + 1))
    labels = {c: translate("col.open" if c == "open" else f"col.{c}", language) for c in out.columns}
    return out.rename(columns=labels), len(summary) - len(rankable)


def timeline_table(timeline: pd.DataFrame, *, language: str) -> pd.DataFrame:
    """A case's history with labels, its times in the district's time (stored in UTC)."""
    out = timeline.copy()
    if "at" in out and not out.empty:
        out["at"] = local_text(out["at"]).to_numpy()
    if "action" in out:
        out["action"] = out["action"].astype(str).map(_label(language, "action"))
    for column in ("from_state", "to_state"):
        if column in out:
            out[column] = out[column].map(_label(language, "state"))
    return out.rename(columns={c: translate(f"col.{c}", language) for c in out.columns})


def rollup_table(rollup: pd.DataFrame, *, language: str) -> pd.DataFrame:
    """The per-level roll-up with levels named and the on-time rate in per cent."""
    out = rollup.copy()
    out["level"] = out["level"].map(lambda level: translate(f"level.{level}", language))
    out["on_time_rate"] = (out["on_time_rate"].astype(float) * 100).round(0)
    return out.rename(columns={c: translate(f"col.{c}", language) for c in out.columns})


def shop_table(shops: pd.DataFrame, *, language: str) -> pd.DataFrame:
    """Shops with their trade in words (the office's own word beside Linpu's, or alone when it maps
    to none), badges in words, address and the phone as the query gave it (masked but for the admin)."""
    out = pd.DataFrame(shops.drop(columns="geometry", errors="ignore"))
    if "trade" in out:
        named = out["trade"].map(_label(language, "trade"))
        label = out["trade_label"].fillna("") if "trade_label" in out else pd.Series("", index=out.index)
        out["trade"] = [f"{n}（{lab}）" if n and lab else n or lab for n, lab in zip(named, label, strict=True)]
    keep = [c for c in ("shop_code", "name", "trade", "badges", "address", "phone") if c in out]
    out = out[keep].copy()
    if "badges" in out:
        out["badges"] = out["badges"].map(
            lambda badges: "、".join(translate(f"badge.{b}", language) for b in (badges or []))
        )
    return out.rename(columns={c: translate(f"col.{c}", language) for c in out.columns})


#: Above this many grids a picker does not list every code (10,000 options would be
#: shipped to the browser on every rerun): it offers a few and takes a typed code.
PICKER_LIMIT = 500


def picker_options(all_codes: list[str], *, chosen=(), suggested=(), limit: int = PICKER_LIMIT
                   ) -> tuple[list[str], bool]:
    """Options for a grid picker and whether the picker must accept typed codes.

    Up to ``limit`` grids: every code, nothing to type.  Beyond: the chosen
    codes (so the widget keeps its value) and then the suggested ones, at most
    ``limit`` in all; any other code is typed (see ``known_codes``).
    """
    if len(all_codes) <= limit:
        return list(all_codes), False
    chosen = [c for c in chosen if c]
    return list(dict.fromkeys([*chosen, *suggested]))[: max(limit, len(chosen))], True


def known_codes(picked, all_codes) -> tuple[list[str], list[str]]:
    """Split typed or picked grid codes into (known, unknown); a code is trimmed, case kept."""
    known_set = set(all_codes)
    picked = [str(c).strip() for c in ([picked] if isinstance(picked, str) else picked or []) if str(c).strip()]
    return [c for c in picked if c in known_set], [c for c in picked if c not in known_set]


def admin_log_table(entries: pd.DataFrame, *, language: str) -> pd.DataFrame:
    """The admin log in China time with its action words and column labels."""
    out = entries.copy()
    if not out.empty:
        out["at"] = local_text(out["at"]).to_numpy()
        out["action"] = out["action"].astype(str).map(_label(language, "admin.action"))
    return out.rename(columns={c: translate(f"admin.log.{c}", language) for c in out.columns})
def compact_table(compact: pd.DataFrame, *, language: str) -> pd.DataFrame:
    """The stall zones, then the service points, of a leader's grids: kind, name, hours (frontage is counted
    apart). Names are the office's text: ``st.dataframe`` shows them as text."""
    shown = compact[compact["kind"].isin(["stall", "service_point"])]
    shown = shown.iloc[shown["kind"].map({"stall": 0, "service_point": 1}).argsort(kind="stable")]
    out = pd.DataFrame({
        translate("compact.kind", language): [translate(f"compact.kind_{k}", language) for k in shown["kind"]],
        translate("col.name", language): shown["name"].astype(str).tolist(),
        translate("compact.hours", language): [h if isinstance(h, str) and h else translate("compact.no_hours", language)
                                               for h in shown["hours"]],
    })
    return out
