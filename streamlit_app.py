"""Linpu dashboard entry: `streamlit run streamlit_app.py`."""

from __future__ import annotations

import streamlit as st

from dashboard.context import engine, language
from dashboard.i18n import LANGUAGES, translate
from dashboard.static_assets import ensure_leaflet
from governance.errors import ConfigurationError

st.set_page_config(page_title="邻铺 Linpu", page_icon="🏮", layout="wide")
ensure_leaflet()

lang = language()
try:
    engine()
except ConfigurationError as exc:
    st.error(translate("error.database", lang, reason=str(exc)))
    st.stop()

with st.sidebar:
    st.markdown(f"### {translate('app.title', lang)}")
    choice = st.selectbox(
        translate("language", lang),
        options=list(LANGUAGES),
        format_func=LANGUAGES.get,
        index=list(LANGUAGES).index(lang),
    )
    if choice != lang:
        st.query_params["lang"] = choice
        st.rerun()

pages = [
    st.Page("dashboard/pages/overview.py", title=translate("nav.overview", lang), icon="🗺️", default=True),
]
st.navigation(pages).run()
