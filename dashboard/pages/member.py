"""Team member (物业/治安/消防): the sub-tasks given to them and the routine checks of their kind.

Mobile-first like the leader's page: one column, tabs, cards.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.auth import require
from dashboard.cards import card_items, team_cards
from dashboard.context import language
from dashboard.i18n import translate
from dashboard.widgets import flash

viewer = require("member")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

work = data.member_work(viewer, data.viewer_key(viewer), data.epoch())
st.title(t("member.title"))
st.caption(t("member.caption", kind=t(f"member.{viewer.member_kind}"), n=len(work["sub_tasks"]),
             checks=len(work["checks_due"])))
flash()
tab_tasks, tab_checks = st.tabs([t("member.tab_tasks"), t("member.tab_checks")], key="member-tabs",
                                on_change="rerun")
with tab_tasks:
    team_cards(viewer, work["sub_tasks"], lang, key="member")
with tab_checks:
    # Shop names are user-typed: shown as plain text.
    items = card_items(pd.DataFrame(), work["checks_due"], language=lang, today_only=False)
    if not items:
        st.info(t("team.none"))
    for item in items:
        st.text(f"{item['title']} · {item['due']}")
