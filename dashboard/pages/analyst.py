"""Analyst: exports (as `linpu export`), re-gridding preview, shop-register upload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st
from streamlit_folium import st_folium

from dashboard import data
from dashboard.auth import require
from dashboard.context import base_url_path, language
from dashboard.i18n import translate
from dashboard.maps import grids_map
from dashboard.register_upload import upload_section
from dashboard.widgets import flash
from governance.catalog import STATE_SEVERITY_ORDER, Category, OccupationCheck
from governance.errors import LinpuError
from governance.filters import CaseFilter

viewer = require("analyst")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

st.title(t("an.title"))
flash()
all_codes = data.grid_codes(viewer, data.viewer_key(viewer), data.epoch())

# --- exports -----------------------------------------------------------------
st.subheader(t("an.exports"))
from pipelines.export import COORDS, FORMATS, LAYERS  # noqa: E402

today = datetime.now(UTC).date()
with st.form("export"):
    c1, c2, c3 = st.columns(3)
    layers = c1.multiselect(t("an.layers"), list(LAYERS), default=list(LAYERS), key="an-layers", placeholder=t("sup.all"))
    fmt = c2.selectbox(t("an.format"), list(FORMATS), key="an-format")
    crs = c3.text_input(t("an.crs"), value="EPSG:4326", key="an-crs")
    coords = c3.selectbox(t("an.coords"), list(COORDS), key="an-export-coords",
                          format_func=lambda c: t("an.gcj02") if c == "gcj02" else c.upper())
    f1, f2, f3, f4 = st.columns(4)
    dates = f1.date_input(t("sup.date_range"), value=(today - timedelta(days=365), today), key="an-dates")
    categories = f2.multiselect(t("sup.categories"), [c.value for c in Category], key="an-categories", placeholder=t("sup.all"),
                                format_func=lambda c: t(f"category.{c}"))
    states = f3.multiselect(t("sup.states"), [s.value for s in STATE_SEVERITY_ORDER], key="an-states", placeholder=t("sup.all"),
                            format_func=lambda s: t(f"state.{s}"))
    grid_codes = f4.multiselect(t("sup.grids"), all_codes, key="an-grids", placeholder=t("sup.all"))
    occupation = f3.multiselect(t("sup.occupation"), [o.value for o in OccupationCheck], key="an-occupation",
                                placeholder=t("sup.all"), format_func=lambda o: t(f"occupation.{o}"))
    prepare = st.form_submit_button(t("an.prepare"), type="primary")

if prepare and layers:
    start, end = (tuple(dates) + (None, None))[:2]
    filters = CaseFilter.for_days(start, end, categories=tuple(categories), states=tuple(states),
                           grid_codes=tuple(grid_codes), occupation=tuple(occupation))
    try:
        files, notes, features = data.export_files(viewer, layers=tuple(layers), fmt=fmt, filters=filters,
                                                   crs=crs.strip() or None, coords=coords)
    except LinpuError as exc:
        st.error(t("error.generic", reason=str(exc)))
    else:
        st.caption(", ".join(f"{name}: {n}" for name, n in features.items()))
        for note in notes:
            st.caption(note)
        for name, payload in files:
            st.download_button(t("an.download", name=name), payload, file_name=name,
                               mime="application/octet-stream", key=f"dl-{name}")

# --- re-gridding preview ---------------------------------------------------
st.subheader(t("an.regrid"))
with st.form("regrid"):
    r1, r2, r3, r4 = st.columns(4)
    target = r1.number_input(t("an.target"), min_value=4, max_value=40, value=10, step=1, key="an-target")
    min_size = r2.number_input(t("an.min"), min_value=1, max_value=40, value=8, step=1, key="an-min")
    max_size = r3.number_input(t("an.max"), min_value=2, max_value=80, value=12, step=1, key="an-max")
    seed = r4.number_input(t("an.seed"), min_value=0, value=0, step=1, key="an-seed")
    preview_clicked = st.form_submit_button(t("an.preview"))
if preview_clicked or st.session_state.get("an-preview-shown"):
    st.session_state["an-preview-shown"] = True
    try:
        preview = data.regrid_preview(viewer, data.viewer_key(viewer), data.epoch(), int(target),
                                      int(min_size), int(max_size), int(seed))
    except (LinpuError, ValueError) as exc:
        st.error(t("error.generic", reason=str(exc)))
    else:
        left, right = st.columns(2)
        for column, key, frame in ((left, "an.current", preview["current"]),
                                   (right, "an.proposed", preview["proposed"])):
            with column:
                st.markdown(f"**{t(key)}** ({len(frame)})")
                st_folium(grids_map(frame, preview["shops"], min_size=int(min_size), max_size=int(max_size),
                                    features=preview["features"], language=lang, base_url_path=base_url_path()),
                          height=380, use_container_width=True, returned_objects=[], key=f"map-{key}")
        st.markdown(f"**{t('an.quality')}**")
        st.dataframe(data.quality_table(preview["current_quality"], preview["proposed_quality"],
                                        (t("an.current"), t("an.proposed"))),
                     hide_index=True, width="stretch")
        # A branch secretary's preview holds their branch's shops only: saving is district-wide.
        if viewer.is_supervising and viewer.is_district_wide and st.button(t("an.save"), key="an-save"):
            try:
                data.adopt_preview(viewer, preview)
            except LinpuError as exc:
                st.error(t("error.generic", reason=str(exc)))
            else:
                st.session_state["an-preview-shown"] = False
                st.success(t("an.saved"))

# --- shop register upload ------------------------------------------------------
st.subheader(t("an.upload"))
upload_section(viewer, lang)
