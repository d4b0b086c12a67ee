"""Team member (物业/治安/消防): the sub-tasks given to them, the routine checks of their kind due, and
recording one (the leader's check form, offered only the kind's check categories).

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
from dashboard.widgets import check_form, flash
from governance.catalog import MEMBER_CHECK_CATEGORIES

viewer = require("member")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

work = data.member_work(viewer, data.viewer_key(viewer), data.epoch())
st.title(t("member.title"))
st.caption(t("member.caption", kind=t(f"member.{viewer.member_kind}"), n=len(work["sub_tasks"]),
             checks=len(work["checks_due"])))
flash()
tab_tasks, tab_checks, tab_record = st.tabs(
    [t("member.tab_tasks"), t("member.tab_checks"), t("member.tab_record")], key="member-tabs", on_change="rerun")
with tab_tasks:
    team_cards(viewer, work["sub_tasks"], lang, key="member")
with tab_checks:
    # Shop names are user-typed: shown as plain text.
    items = card_items(pd.DataFrame(), work["checks_due"], language=lang, today_only=False)
    if not items:
        st.info(t("team.none"))
    for item in items:
        st.text(f"{item['title']} · {item['due']}")
with tab_record:
    # The page offers only the kind's categories; governance.permissions.require_check refuses the rest.
    categories = MEMBER_CHECK_CATEGORIES.get(viewer.member_kind, ())
    if not categories:
        st.info(t("member.record_none", kind=t(f"member.{viewer.member_kind}")))
    elif work["shops"].empty:
        st.info(t("member.no_shops"))
    else:
        check_form(viewer, work["shops"], lang, categories)
