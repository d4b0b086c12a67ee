"""Who is signed in: a sign-in token from this Streamlit session or the browser's cookie.

A fresh sign-in keeps its token in ``st.session_state`` and hands it to the
browser as an HttpOnly cookie through :mod:`dashboard.routes` (a one-off
script: a page cannot set an HttpOnly cookie itself).  A reload starts a new
Streamlit session that finds the cookie in ``st.context.cookies``.  Every run
checks the token against the database (:mod:`governance.login`), so sign-out,
expiry and a password change elsewhere end it at the next run; the user's
role and grids are read from the database through ``viewer_for``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import streamlit as st

from dashboard.context import engine, language, route_base
from dashboard.i18n import translate
from dashboard.routes import COOKIE_NAME, SESSION_PATH, SIGN_OUT_PATH, TOKEN_HEADER
from governance.db import session_factory
from governance.errors import LinpuError
from governance.login import SessionExpired, check_token, end_token
from governance.permissions import viewer_for
from governance.settings import get_settings

TOKEN_KEY = "linpu_token"
NOTICE_KEY = "linpu_signin_notice"
#: "set" after a sign-in, "clear" after a sign-out: what the browser's cookie still needs;
#: then "sent-set" for the run that asked the browser to set it, "done-set" from the next
#: run on (the browser holds it), "done-clear" once cleared.
COOKIE_KEY = "linpu_cookie"

#: The pages each role may open; the first is where the role lands.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "grid_leader": ("leader", "password"),
    "member": ("member", "password"),
    "department": ("department", "password"),
    "supervisor": ("supervisor", "analyst", "password"),
    "analyst": ("analyst", "supervisor", "password"),
    "admin": ("admin", "supervisor", "analyst", "leader", "password"),
}


def _viewer(username: str):
    with session_factory(engine())() as session:
        return viewer_for(session, username)


def _token() -> str | None:
    if TOKEN_KEY in st.session_state:
        return st.session_state[TOKEN_KEY]
    if st.session_state.get(COOKIE_KEY) in ("clear", "done-clear"):
        return None
    return _cookie()


def _cookie() -> str | None:
    cookie = st.context.cookies.get(COOKIE_NAME)
    # Outside a browser (AppTest) the context holds no real cookies.
    return cookie if isinstance(cookie, str) else None


def current_viewer():
    """The signed-in Viewer, or None (with a notice for the sign-in page) if not signed in."""
    token = _token()
    if not token:
        return None
    minutes = get_settings().session_timeout_minutes
    with session_factory(engine())() as session:
        try:
            username, _ = check_token(token, timeout=timedelta(minutes=minutes), session=session)
        except SessionExpired:
            st.session_state[NOTICE_KEY] = translate("signin.expired", language(), minutes=minutes)
            username = None
        finally:
            # An expiry is stored too, so the token stays ended.
            session.commit()
    try:
        viewer = _viewer(username) if username else None
    except LinpuError as exc:  # user deleted or disabled since signing in
        st.session_state[NOTICE_KEY] = str(exc)
        viewer = None
    if viewer is None:
        st.session_state.pop(TOKEN_KEY, None)
        if st.session_state.get(COOKIE_KEY) != "done-clear":
            st.session_state[COOKIE_KEY] = "clear"
    return viewer


def current_token() -> str | None:
    """This browser's sign-in token (kept alive when the user changes their password)."""
    return _token()


def signed_in(token: str) -> None:
    """Keep a fresh sign-in's token for this session and have it set as the browser's cookie."""
    st.session_state[TOKEN_KEY] = token
    st.session_state[COOKIE_KEY] = "set"


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
    """End the sign-in on the server (so every tab and the cookie stop working) and forget it."""
    token = _token()
    if token:
        with session_factory(engine())() as session, session.begin():
            end_token(token, session=session)
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state[COOKIE_KEY] = "clear"
    st.session_state[NOTICE_KEY] = translate("signin.signed_out", language())


def cookie_bridge() -> None:
    """Once after a sign-in or sign-out: the browser asks our route to set or clear the cookie.

    Every run puts exactly one element here, empty but for that once: had the
    request's element come and gone, everything after it would sit one place
    further on in one run than in the next, and the browser would build the
    whole page again, the map's WebGL context and shaders with it (about 2 s of
    a phone's or a software renderer's time on the first filter change).
    """
    slot = st.empty()
    wanted = st.session_state.get(COOKIE_KEY)
    if wanted == "sent-set":
        # The request went out with the previous run's page, before this run was asked for.
        st.session_state[COOKIE_KEY] = "done-set"
        return
    if wanted not in ("set", "clear") or not st.context.headers:
        return
    base = route_base()
    if wanted == "set":
        path, headers = SESSION_PATH, {TOKEN_HEADER: st.session_state.get(TOKEN_KEY, "")}
    else:
        path, headers = SIGN_OUT_PATH, {}
    slot.html(f"<script>fetch({json.dumps(base + path)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {json.dumps(headers)}}});</script>", unsafe_allow_javascript=True)
    st.session_state[COOKIE_KEY] = "sent-set" if wanted == "set" else "done-clear"


def cookie_in_browser() -> bool:
    """Whether the browser holds this session's sign-in cookie, so that it may fetch from
    the app's staff routes (``dashboard.layer_routes``): the session began with it, or an
    earlier run had it set.  In the run that asks for it the browser may not have it yet,
    and outside a browser (AppTest) there is none."""
    state = st.session_state.get(COOKIE_KEY)
    if state is not None:
        return state == "done-set"
    cookie = _cookie()
    return cookie is not None and cookie == _token()
