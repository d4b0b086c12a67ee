"""The leader's lists of cards (Today, My cases) and the case view they open; the team's cards.

Made for a phone: one card per item with its title in full (wrapping), the
shop, a state colour and "due in …" / "overdue by …" with the deadline in
China time.  A card's button opens the case at its next step: the case's
number goes into the URL (``?case=C00012``, the address the notifications
link to), so a reload or a shared link opens the same case.  A check's card
opens the report form on that shop and check.

``card_items`` and ``due_phrase`` are pure (tested without Streamlit); the
rest draws.  Every user-typed text is escaped before it enters HTML.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.day_walk import in_walking_order
from dashboard.frames import case_table, deadline, timeline_table
from dashboard.i18n import translate
from dashboard.theme import STATE_COLOURS
from dashboard.widgets import before_after, case_actions, done, show_error
from governance.catalog import OPEN_STATES
from governance.clock import district_zone
from governance.errors import LinpuError

#: The state colours of the cards: the maps' and legends' (dashboard.theme); a check has its own.
CARD_COLOURS = {**{str(getattr(k, "value", k)): v for k, v in STATE_COLOURS.items()}, "check": "#0d9488"}
OVERDUE_COLOUR = "#b91c1c"
CASE_PARAM = "case"
#: At most this many cards are drawn in one list; the rest are counted.
CARD_LIMIT = 60
#: The Today tab's switch: the list ordered as a walk (read by the page before the tabs, for the map).
WALK_KEY = "today-walk"


def span_text(delta: pd.Timedelta, lang: str) -> str:
    """A duration as days, hours and minutes, the two largest parts that are not zero."""
    minutes = max(int(abs(delta).total_seconds() // 60), 1)
    parts = [(minutes // 1440, "d"), (minutes % 1440 // 60, "h"), (minutes % 60, "min")]
    shown = [(n, unit) for n, unit in parts if n][:2]
    return ("" if lang == "zh" else " ").join(translate(f"card.unit_{unit}", lang, n=n) for n, unit in shown)


def due_phrase(due, now: datetime, lang: str) -> tuple[str, bool]:
    """("due in 3 h 20 min · 08-21 17:00" or "overdue by 2 d 4 h · …", overdue) in China time."""
    if due is None or pd.isna(due):
        return "", False
    due = pd.Timestamp(due)
    due = due.tz_localize(UTC) if due.tzinfo is None else due
    delta = due - pd.Timestamp(now)
    local = due.tz_convert(district_zone()).strftime("%m-%d %H:%M")
    key = "card.due_in" if delta >= pd.Timedelta(0) else "card.overdue_by"
    return translate(key, lang, span=span_text(delta, lang), at=local), delta < pd.Timedelta(0)


def card_items(cases: pd.DataFrame, checks_due: pd.DataFrame | None, *, language: str,
               now: datetime | None = None, today_only: bool = True) -> list[dict]:
    """The cards of a list, soonest (most overdue) deadline first.

    With ``checks_due`` (Today): the checks due by the end of the day and the open
    cases; without (My cases): every case given.  Each card: kind, title, shop,
    state, colour, due, overdue, case_no, shop_code, category and, for a
    road-occupation finding, its stall-zone check (``occupation``).
    """
    now = now or datetime.now(UTC)
    items = []
    if checks_due is not None and not checks_due.empty:
        end_of_day = pd.Timestamp(now).tz_convert(district_zone()).normalize() + pd.Timedelta(days=1)
        due = checks_due[pd.to_datetime(checks_due["due_at"], utc=True) < end_of_day] if today_only else checks_due
        for row in due.itertuples():
            items.append({"kind": "check", "state": "check", "case_no": "", "shop_code": row.shop_code,
                          "category": row.category, "shop": row.shop_name, "deadline": row.due_at,
                          "title": translate("leader.todo_check", language, shop=row.shop_name,
                                             category=translate(f"category.{row.category}", language))})
    if not cases.empty:
        shown = cases
        if checks_due is not None:
            shown = cases[cases["state"].astype(str).isin([s.value for s in OPEN_STATES])]
        for row, when in zip(shown.itertuples(), deadline(shown), strict=True):
            state = str(row.state)
            occupation = getattr(row, "occupation", None)
            items.append({"kind": "case", "state": state, "case_no": row.case_no, "shop_code": "",
                          "category": str(row.category), "title": str(row.title),
                          "occupation": occupation if isinstance(occupation, str) else "",
                          "shop": row.shop_name if isinstance(row.shop_name, str) else "",
                          "deadline": None if state == "closed" else when})
    for item in items:
        item["colour"] = CARD_COLOURS.get(item["state"], "#6b7280")
        item["due"], item["overdue"] = due_phrase(item["deadline"], now, language)
    far = pd.Timestamp.max.tz_localize(UTC)
    return sorted(items, key=lambda i: (pd.Timestamp(i["deadline"]) if i["deadline"] is not None
                                        and pd.notna(i["deadline"]) else far, i["case_no"]))


def card_html(item: dict, lang: str) -> str:
    """One card's body; the title and shop are user-typed and escaped."""
    state = translate("card.check" if item["kind"] == "check" else f"state.{item['state']}", lang)
    meta = " · ".join(html.escape(part) for part in (item["case_no"], item["shop"]) if part)
    stop = (f'<span class="linpu-stop" style="background:#111;color:#fff;border-radius:50%;padding:0 7px;'
            f'margin-right:6px;font-weight:700">{int(item["stop"])}</span>') if item.get("stop") else ""
    due_colour = OVERDUE_COLOUR if item["overdue"] else "inherit"
    due = (f'<div style="color:{due_colour};font-weight:{600 if item["overdue"] else 400}">'
           f'{html.escape(item["due"])}</div>') if item["due"] else ""
    if item.get("occupation"):  # a road-occupation finding: where it stood against the stall zones
        check = html.escape(f'{translate("col.occupation", lang)}：{translate("occupation." + item["occupation"], lang)}')
        colour = "#166534" if item["occupation"] == "permitted" else OVERDUE_COLOUR
        due = f'<div class="linpu-card-occupation" style="color:{colour};font-size:0.9em">{check}</div>{due}'

    return (
        f'<div class="linpu-card" style="border-left:6px solid {item["colour"]};padding:2px 0 2px 10px;'
        f'overflow-wrap:anywhere;word-break:break-word;white-space:normal">'
        f'{stop}<span style="background:{item["colour"]};color:#fff;border-radius:4px;padding:0 6px;'
        f'font-size:0.8em">{html.escape(state)}</span>'
        f'<div class="linpu-card-title" style="font-weight:600;margin:4px 0">{html.escape(item["title"])}</div>'
        f'<div style="color:#555;font-size:0.9em">{meta}</div>{due}</div>'
    )


def _open_case(case_no: str, tab: str) -> None:
    st.query_params[CASE_PARAM] = case_no
    st.session_state["leader-tabs"] = tab


def _open_check(item: dict, tab: str) -> None:
    st.session_state["report-kind"] = "check"
    st.session_state["report-shop"] = item["shop_code"]
    st.session_state["report-category-check"] = item["category"]
    st.session_state["leader-tabs"] = tab


def card_list(items: list[dict], lang: str, *, key: str) -> None:
    """Cards with a button each: a case's opens it in My cases, a check's opens the report form."""
    for item in items[:CARD_LIMIT]:
        ident = item["case_no"] or f"{item['shop_code']}-{item['category']}"
        with st.container(border=True, key=f"{key}-card-{ident}"):
            st.markdown(card_html(item, lang), unsafe_allow_html=True)
            if item["kind"] == "case":
                st.button(translate("card.open", lang, case_no=item["case_no"]), key=f"{key}-open-{ident}",
                          on_click=_open_case, args=(item["case_no"], translate("leader.tab_cases", lang)),
                          width="stretch")
            else:
                st.button(translate("card.record", lang), key=f"{key}-open-{ident}", width="stretch",
                          on_click=_open_check, args=(item, translate("leader.tab_report", lang)))
    if len(items) > CARD_LIMIT:
        st.caption(translate("card.more", lang, n=len(items) - CARD_LIMIT))


def today_cards(items: list[dict], walk: dict | None, lang: str) -> None:
    """The Today tab: checks due today and open cases as cards, soonest first or (the switch) as a walk."""
    if not items:
        st.info(translate("leader.today_empty", lang))
        return
    st.toggle(translate("walk.toggle", lang), key=WALK_KEY)
    if walk is not None:
        how = translate("walk.streets" if walk["along_streets"] else "walk.straight", lang)
        st.caption(translate("walk.summary", lang, n=len(walk["stops"]), m=f"{walk['length_m']:,.0f}", how=how))
        items = in_walking_order(items, walk["stops"])
    card_list(items, lang, key="today")


def case_view(viewer, case: pd.Series, lang: str) -> None:
    """One case named by its title and number: its next step first, then its timeline in China time."""
    item = card_items(pd.DataFrame([case]), None, language=lang)[0]
    if st.button(translate("card.back", lang), key="case-view-back"):
        del st.query_params[CASE_PARAM]
        st.rerun()
    st.markdown(f'<h3 style="overflow-wrap:anywhere">{html.escape(str(case["title"]))} '
                f'<span style="color:#666;font-weight:400">· {html.escape(str(case["case_no"]))}</span></h3>',
                unsafe_allow_html=True)
    st.markdown(card_html(item | {"title": ""}, lang), unsafe_allow_html=True)
    case_actions(viewer, case, lang, key="leader")
    st.markdown(f"**{translate('cases.timeline', lang)}**")
    st.markdown(timeline_html(timeline_table(data.case_timeline(viewer, int(case["case_id"])), language=lang)),
                unsafe_allow_html=True)
    before_after(viewer, int(case["case_id"]), lang)


def timeline_html(table: pd.DataFrame) -> str:
    """The labelled timeline (China time) as lines that wrap on a phone; notes and names escaped."""
    lines = []
    for row in table.itertuples(index=False):
        at, actor, action, _, to_state, note = (str(v) if pd.notna(v) else "" for v in row[1:7])
        head = " · ".join(html.escape(part) for part in (at, actor, action, to_state) if part)
        body = f'<div style="color:#444">{html.escape(note)}</div>' if note else ""
        lines.append(f'<li style="margin-bottom:6px;overflow-wrap:anywhere">{head}{body}</li>')
    return f'<ul style="padding-left:1.1em">{"".join(lines)}</ul>'


def my_cases(viewer, cases: pd.DataFrame, lang: str) -> None:
    """My cases: the case named in the URL, else the list of cards (open ones by default)."""
    chosen = st.query_params.get(CASE_PARAM)
    match = cases[cases["case_no"] == chosen] if chosen and not cases.empty else cases.iloc[0:0]
    if not match.empty:
        case_view(viewer, match.iloc[0], lang)
        return
    only_open = st.toggle(translate("cases.open_only", lang), value=True, key="leader-open-only")
    shown = cases[cases["state"].astype(str) != "closed"] if only_open else cases
    if shown.empty:
        st.info(translate("cases.none", lang))
        return
    card_list(card_items(shown, None, language=lang), lang, key="mine")
    with st.expander(translate("card.as_table", lang)):
        st.dataframe(case_table(shown, language=lang), hide_index=True, width="stretch")


#: The card colour of a sub-task or an order clock (``orders.orders_frame``'s clock).
TEAM_COLOURS = {"open": CARD_COLOURS["in_progress"], "awaiting": CARD_COLOURS["warning"],
                "accept_overdue": OVERDUE_COLOUR, "in_progress": CARD_COLOURS["in_progress"],
                "overdue": OVERDUE_COLOUR}


def team_cards(viewer, frame: pd.DataFrame, lang: str, *, key: str, now: datetime | None = None) -> None:
    """A member's or department's work as cards, each with its next steps.

    ``frame`` is ``sub_tasks_frame`` (steps done / return) or ``orders_frame``
    (accept / return, then resolve); a return needs its reason.
    """
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    now = now or datetime.now(UTC)
    orders = "clock" in frame.columns
    if frame.empty:
        st.info(t("team.none"))
        return
    for row in frame.head(CARD_LIMIT).itertuples():
        status = row.clock if orders else row.state
        due = (row.accept_due_at if status in ("awaiting", "accept_overdue") else row.order_due_at) if orders \
            else row.due_at
        phrase, late = due_phrase(due, now, lang)
        colour = TEAM_COLOURS.get(status, "#6b7280")
        meta = " · ".join(html.escape(str(p)) for p in (row.case_no, row.grid_code,
                                                          t(f"category.{row.category}")) if p)
        body = (f'<div class="linpu-card" style="border-left:6px solid {colour};padding:2px 0 2px 10px;'
                f'overflow-wrap:anywhere;white-space:normal"><span style="background:{colour};color:#fff;'
                f'border-radius:4px;padding:0 6px;font-size:0.8em">{html.escape(t(f"team.{status}"))}</span>'
                f'<div style="font-weight:600;margin:4px 0">{html.escape(str(row.title))}</div>'
                f'<div style="color:#555;font-size:0.9em">{meta}</div>'
                f'<div style="color:{OVERDUE_COLOUR if late else "inherit"}">{html.escape(phrase)}</div></div>')
        ident = row.case_id if orders else row.sub_task_id
        steps = (["accept", "return"] if row.state == "warning" else ["resolve"]) if orders else ["done", "return"]
        with st.container(border=True, key=f"{key}-card-{ident}"), st.form(f"{key}-form-{ident}"):
            st.markdown(body, unsafe_allow_html=True)
            step = st.radio(t("cases.next"), steps, format_func=lambda s: t(f"team.step.{s}"),
                            key=f"{key}-step-{ident}", horizontal=True)
            note = st.text_input(t("cases.note") + " / " + t("cases.reason"), key=f"{key}-note-{ident}")
            submitted = st.form_submit_button(t("cases.apply"), type="primary")
        if submitted:
            _team_step(viewer, row, step, note.strip(), lang, orders=orders)
    if len(frame) > CARD_LIMIT:
        st.caption(t("card.more", n=len(frame) - CARD_LIMIT))


def _team_step(viewer, row, step: str, note: str, lang: str, *, orders: bool) -> None:
    if step == "return" and not note:
        st.error(translate("cases.reason_missing", lang))
        return
    try:
        if orders:
            data.order_step(viewer, int(row.case_id), step, expected_version=int(row.version), note=note)
        else:
            data.sub_task_step(viewer, int(row.sub_task_id), step, expected_version=int(row.version), note=note)
    except LinpuError as exc:
        show_error(exc, lang)
        return
    done(translate("team.done", lang, title=row.title, step=translate(f"team.step.{step}", lang)))
