"""The leader's cards without a browser: due times said in China time, overdue marked,
user-typed titles escaped, soonest deadline first, and the timeline in China time."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dashboard.cards import card_html, card_items, due_phrase
from dashboard.frames import timeline_table

NOW = datetime(2026, 8, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_due_in_and_overdue_by_are_said_in_china_time():
    assert due_phrase(pd.Timestamp("2026-08-20T05:20:00Z"), NOW, "en") == ("Due in 3 h 20 min · 08-20 13:20", False)
    assert due_phrase(pd.Timestamp("2026-08-17T22:00:00Z"), NOW, "en") == ("Overdue by 2 d 4 h · 08-18 06:00", True)
    assert due_phrase(pd.Timestamp("2026-08-17T22:00:00Z"), NOW, "zh") == ("已超期 2天4小时 · 08-18 06:00", True)
    assert due_phrase(None, NOW, "en") == ("", False)


def cases() -> pd.DataFrame:
    return pd.DataFrame({
        "case_no": ["C1", "C2", "C3"],
        "title": ["<b>later</b>", "overdue one", "closed one"],
        "state": ["warning", "in_progress", "closed"],
        "category": ["gas", "noise", "noise"],
        "shop_name": ["Tea & Co", None, "X"],
        "due_at": pd.to_datetime(["2026-08-21T00:00Z", "2026-08-19T00:00Z", "2026-08-01T00:00Z"]),
        "overdue": [False, True, False],
    })


def test_today_lists_open_cases_soonest_first_with_their_state_colours():
    items = card_items(cases(), pd.DataFrame(columns=["shop_code", "shop_name", "category", "due_at"]),
                       language="en", now=NOW)
    assert [i["case_no"] for i in items] == ["C2", "C1"]
    assert items[0]["overdue"] and items[0]["due"].startswith("Overdue by 1 d")
    assert items[0]["colour"] != items[1]["colour"]


def test_a_card_shows_the_whole_title_escaped():
    item = card_items(cases(), None, language="en", now=NOW)[-1]
    assert item["case_no"] == "C3" and item["due"] == ""  # a closed case has nothing due
    body = card_html(card_items(cases(), None, language="en", now=NOW)[1], "en")
    assert "&lt;b&gt;later&lt;/b&gt;" in body and "<b>later" not in body
    assert "Tea &amp; Co" in body and "overflow-wrap:anywhere" in body


def test_the_timeline_is_in_china_time():
    timeline = pd.DataFrame({"seq": [1], "at": [pd.Timestamp("2026-08-19T23:30:00Z")], "actor": ["w"],
                             "action": ["raise"], "from_state": [None], "to_state": ["warning"],
                             "note": [""], "n_attachments": [0]})
    assert timeline_table(timeline, language="en").iloc[0, 1] == "2026-08-20 07:30"
