"""Department (部门): the orders dispatched to it, in any grid, with their clocks; its sub-tasks."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.auth import require
from dashboard.cards import team_cards
from dashboard.context import language
from dashboard.i18n import translate
from dashboard.widgets import flash

viewer = require("department")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

work = data.department_work(viewer, data.viewer_key(viewer), data.epoch())
orders = work["orders"]
st.title(t("dept.title"))
st.caption(t("dept.caption", n=len(orders), late=int(orders["clock"].isin(["accept_overdue", "overdue"]).sum())))
flash()
tab_orders, tab_tasks = st.tabs([t("dept.tab_orders"), t("dept.tab_tasks")], key="dept-tabs", on_change="rerun")
with tab_orders:
    team_cards(viewer, orders, lang, key="dept")
with tab_tasks:
    team_cards(viewer, work["sub_tasks"], lang, key="dept-sub")
