"""Who is signed in: the token in ``st.session_state`` and nothing else.

The token (see :mod:`governance.login`) is the only thing this module keeps
in the Streamlit session; the user's role and grids are read from the
database on every run, through ``governance.permissions.viewer_for``.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard.context import engine, language
from dashboard.i18n import translate
from governance.db import session_factory
from governance.errors import LinpuError
from governance.login import SessionExpired, check_token
from governance.settings import get_settings

TOKEN_KEY = "linpu_token"
NOTICE_KEY = "linpu_signin_notice"

#: The pages each role may open; the first is where the role lands.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "grid_leader": ("leader",),
    "supervisor": ("supervisor", "analyst"),
    "analyst": ("analyst", "supervisor"),
    "admin": ("supervisor", "analyst", "leader"),
}


def _viewer(username: str):
    from governance.permissions import viewer_for

    with session_factory(engine())() as session:
        return viewer_for(session, username)


def current_viewer():
    """The signed-in Viewer, or None (with a notice for the sign-in page) if not signed in."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return None
    minutes = get_settings().session_timeout_minutes
    try:
        username, refreshed = check_token(token, timeout=timedelta(minutes=minutes))
        viewer = _viewer(username)
    except SessionExpired:
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state[NOTICE_KEY] = translate("signin.expired", language(), minutes=minutes)
        return None
    except LinpuError as exc:  # user deleted or disabled since signing in
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state[NOTICE_KEY] = str(exc)
        return None
    st.session_state[TOKEN_KEY] = refreshed
    return viewer


def role_of(viewer) -> str:
    return str(getattr(viewer.role, "value", viewer.role))


def require(page: str):
    """Guard at the top of every page: the Viewer if their role may open ``page``, else stop."""
    lang = language()
    viewer = current_viewer()
    if viewer is None:
        st.warning(st.session_state.get(NOTICE_KEY) or translate("signin.title", lang))
        st.stop()
    role = role_of(viewer)
    if page not in ROLE_PAGES.get(role, ()):
        st.error(translate("guard.denied", lang, role=translate(f"role.{role}", lang)))
        st.stop()
    return viewer


def sign_out() -> None:
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state[NOTICE_KEY] = translate("signin.signed_out", language())
