"""Linpu dashboard entry: `streamlit run streamlit_app.py`.

This file is both the web app and its script.  `streamlit run` finds the
``app = st.App(...)`` below and serves it (Streamlit on Starlette, plus the
routes of :mod:`dashboard.routes`: the sign-in cookie); each browser session
then runs this same file as ``__main__``, which draws the pages.  AppTest runs
it as ``__main__`` too.

The pages offered follow the signed-in user's role (st.navigation is built
from it), so a grid leader has no supervisor or analyst page to open, not
even by URL; each page also guards itself (dashboard.auth.require).
"""

from __future__ import annotations

import streamlit as st

from dashboard.accounts import must_change_password
from dashboard.auth import ROLE_PAGES, cookie_bridge, current_viewer, role_of, sign_out
from dashboard.context import engine, language
from dashboard.i18n import LANGUAGES, translate
from dashboard.routes import ROUTES
from dashboard.static_assets import ensure_leaflet
from governance.errors import ConfigurationError

PAGES = {
    "leader": ("dashboard/pages/leader.py", "nav.leader", ":material/my_location:"),
    "member": ("dashboard/pages/member.py", "nav.member", ":material/engineering:"),
    "department": ("dashboard/pages/department.py", "nav.department", ":material/apartment:"),
    "supervisor": ("dashboard/pages/supervisor.py", "nav.supervisor", ":material/map:"),
    "analyst": ("dashboard/pages/analyst.py", "nav.analyst", ":material/analytics:"),
    "admin": ("dashboard/pages/admin.py", "nav.admin", ":material/admin_panel_settings:"),
    "password": ("dashboard/pages/password.py", "nav.password", ":material/key:"),
}


def sidebar(lang: str, viewer) -> None:
    with st.sidebar:
        st.markdown(f"### {translate('app.title', lang)}")
        choice = st.selectbox(
            translate("language", lang),
            options=list(LANGUAGES),
            format_func=LANGUAGES.get,
            index=list(LANGUAGES).index(lang),
            key="language-switch",
        )
        if choice != lang:
            st.query_params["lang"] = choice
            st.rerun()
        if viewer is not None:
            role = role_of(viewer)
            st.caption(translate("signed_in_as", lang, name=viewer.username, role=translate(f"role.{role}", lang)))
            if st.button(translate("signout", lang), key="sign-out"):
                sign_out()
                st.rerun()


def sign_in_pages(lang: str) -> list:
    """Signed out (or timed out), every page's address shows the sign-in page.

    The back button after a sign-out, a bookmark or a restored tab may ask for
    /analyst or /leader: it gets the sign-in page (not Streamlit's "page not
    found"), and after signing in the same address opens that page if the
    role has it.
    """
    login = "dashboard/pages/login.py"
    title, icon = translate("nav.login", lang), ":material/login:"
    return [
        st.Page(login, title=title, icon=icon, url_path="login", default=True),
        *(st.Page(login, title=title, icon=icon, url_path=name, visibility="hidden") for name in PAGES),
    ]


def password_pages(lang: str, addresses: tuple[str, ...]) -> list:
    """Holding a one-time password (a new or reset account), every address of the role shows the
    password page, on every reload and in every browser, until the user has chosen their own."""
    path, title, icon = PAGES["password"][0], translate("nav.password", lang), PAGES["password"][2]
    return [
        st.Page(path, title=title, icon=icon, url_path="password", default=True),
        *(st.Page(path, title=title, icon=icon, url_path=name, visibility="hidden")
          for name in addresses if name != "password"),
    ]


def main() -> None:
    st.set_page_config(page_title="邻铺 Linpu", page_icon="🏮", layout="wide")
    ensure_leaflet()
    lang = language()
    try:
        engine()
    except ConfigurationError as exc:
        st.error(translate("error.database", lang, reason=str(exc)))
        st.stop()
    viewer = current_viewer()
    cookie_bridge()
    sidebar(lang, viewer)
    if viewer is None:
        pages = sign_in_pages(lang)
    elif must_change_password(viewer.username):
        pages = password_pages(lang, ROLE_PAGES.get(role_of(viewer), ()))
    else:
        allowed = ROLE_PAGES.get(role_of(viewer), ())
        pages = [
            st.Page(PAGES[name][0], title=translate(PAGES[name][1], lang), icon=PAGES[name][2],
                    url_path=name, default=index == 0)
            for index, name in enumerate(allowed)
        ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
else:
    app = st.App(__file__, routes=ROUTES)
