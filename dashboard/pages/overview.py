"""District overview: grids coloured by loop status, and the per-grid counts."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboard.context import base_url_path, engine, language
from dashboard.i18n import translate
from dashboard.maps import district_map
from governance.db import session_factory
from governance.permissions import district_viewer
from governance.queries import (
    LOOP_COLUMNS,
    current_grids,
    district_features,
    grid_loop_summary,
    open_shops,
)

lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

st.title(t("overview.title"))
with session_factory(engine())() as session:
    grids = current_grids(session, district_viewer())
    summary = grid_loop_summary(session, district_viewer())
    shops = open_shops(session, district_viewer())
    features = district_features(session)

if grids.empty:
    st.info(t("overview.no_data"))
    st.stop()

st.caption(
    t(
        "overview.caption",
        grids=len(grids),
        shops=len(shops),
        open=int(summary["open"].sum()),
        overdue=int(summary["overdue"].sum()),
    )
)
map_column, table_column = st.columns([5, 4], gap="medium")
with map_column:
    st_folium(
        district_map(grids, summary, shops, features, language=lang, base_url_path=base_url_path()),
        height=620,
        use_container_width=True,
        returned_objects=[],
        key="district-map",
    )
with table_column:
    st.subheader(t("overview.table"))
    columns = ["code", "n_shops", *LOOP_COLUMNS, "overdue"]
    labels = {c: t(f"state.{c}") if c in LOOP_COLUMNS or c == "overdue" else t(f"col.{c}") for c in columns}
    st.dataframe(
        summary[columns].rename(columns=labels),
        hide_index=True,
        height=620,
        use_container_width=True,
    )
