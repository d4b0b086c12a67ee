"""What every page needs: the engine (made once per process) and the language."""

from __future__ import annotations

import sys

import streamlit as st
from sqlalchemy import Engine

from dashboard.i18n import LANGUAGES
from governance.db import make_engine
from governance.errors import ConfigurationError
from governance.migrate import is_up_to_date
from governance.settings import get_settings


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    """The engine for LINPU_DATABASE_URL; raises ConfigurationError if unusable."""
    settings = get_settings()
    created = make_engine(settings.resolved_database_url)
    print(f"database: {created.url.render_as_string(hide_password=True)}", file=sys.stderr)
    if not is_up_to_date(created):
        raise ConfigurationError(
            "LINPU_DATABASE_URL: the database schema is not current; run `linpu db upgrade`"
        )
    return created


def language() -> str:
    """UI language: ?lang= in the URL wins, so a link keeps its language."""
    chosen = st.query_params.get("lang", get_settings().language)
    return chosen if chosen in LANGUAGES else "zh"


def base_url_path() -> str:
    return str(st.get_option("server.baseUrlPath") or "")


def route_base() -> str:
    """What the browser puts before the path of one of the app's routes (``dashboard.routes``):
    ``/<server.baseUrlPath>``, or nothing when the app is served at the root."""
    base = base_url_path().strip("/")
    return "/" + base if base else ""
