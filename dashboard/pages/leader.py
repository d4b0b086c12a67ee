"""Grid leader (邻铺长): own grid(s) on a map, today's list, reporting, moving own cases.

Mobile-first: one column, tabs instead of side-by-side panels.
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboard import data
from dashboard.auth import require
from dashboard.cards import CARD_LIMIT, WALK_KEY, card_items, my_cases, today_cards
from dashboard.context import base_url_path, language
from dashboard.frames import compact_table
from dashboard.i18n import translate
from dashboard.maps import leader_map
from dashboard.tiles import from_display
from dashboard.widgets import flash, report_form
from geo.placement import code_at
from governance.settings import get_settings

viewer = require("leader")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
settings = get_settings()

view = data.grid_view(viewer, data.viewer_key(viewer), data.epoch())
work = data.leader_work(viewer, data.viewer_key(viewer), data.epoch())
grids, summary, shops, cases = view["grids"], view["summary"], view["shops"], work["cases"]

st.title(t("leader.title"))
if grids.empty:
    st.info(t("leader.no_grid"))
    st.stop()
st.caption(t("leader.caption", grids="、".join(grids["code"]), shops=len(shops),
             open=int(summary["open"].sum()), overdue=int(summary["overdue"].sum())))
flash()

# The last map click (the component keeps it as its widget value).
click = (st.session_state.get("leader-map") or {}).get("last_clicked")
clicked = from_display(click["lng"], click["lat"], settings.tiles) if click else None
clicked_grid = code_at(grids, *clicked) if clicked else None

# The Today list, and its walk when the Today tab's switch is on (the map draws it too).
today = card_items(cases, work["checks_due"], language=lang)[:CARD_LIMIT]
walk = data.day_walk(today, cases, shops, view["features"]) if st.session_state.get(WALK_KEY) and today else None

# Keyed, so that the open tab survives reruns that add or remove a message above it.
tab_map, tab_today, tab_report, tab_cases = st.tabs(
    [t("leader.tab_map"), t("leader.tab_today"), t("leader.tab_report"), t("leader.tab_cases")],
    key="leader-tabs", on_change="rerun",
)
with tab_map:
    st.caption(t("leader.map_hint"))
    open_cases = cases[cases["state"].astype(str) != "closed"]
    st_folium(
        leader_map(grids, summary, shops, open_cases, view["features"], compact=view["compact"],
                   clicked=clicked if clicked_grid else None, walk=walk, language=lang,
                   base_url_path=base_url_path(), tiles=settings.tiles, tile_key=settings.tile_key),
        height=480,
        use_container_width=True,
        returned_objects=["last_clicked"],
        key="leader-map",
    )
    if clicked and clicked_grid:
        st.success(t("leader.clicked", lat=clicked[1], lon=clicked[0]))
    elif clicked:
        st.warning(t("leader.click_outside"))
    zones = compact_table(view["compact"], language=lang)
    st.markdown(f"**{t('compact.title')}**")
    if zones.empty:
        st.caption(t("compact.none"))
    else:
        st.dataframe(zones, hide_index=True, width="stretch")
    frontage = view["compact"][view["compact"]["kind"] == "frontage"]
    st.caption(t("compact.frontage_count", n=len(frontage), generated=int(frontage["generated"].sum())))

with tab_today:
    today_cards(today, walk, lang)

with tab_report:
    report_form(viewer, shops, clicked if clicked_grid else None, lang)

with tab_cases:
    my_cases(viewer, cases, lang)
