"""Sign-in page; in demo mode it also lists the demo accounts per role."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import NOTICE_KEY, TOKEN_KEY, signed_in
from dashboard.context import engine, language
from dashboard.data import warm_case_facts
from dashboard.i18n import translate
from governance.db import session_factory
from governance.login import AccountLocked, BadCredentials, SignInError, demo_accounts, sign_in
from governance.settings import get_settings

DEMO_PASSWORD = "linpu-demo"

lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

st.title(t("signin.title"))
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.info(notice)

with st.form("sign-in"):
    username = st.text_input(t("signin.username"), key="signin-username")
    password = st.text_input(t("signin.password"), type="password", key="signin-password")
    submitted = st.form_submit_button(t("signin.submit"), type="primary")

if submitted:
    if not username.strip() or not password:
        st.error(t("signin.missing"))
    else:
        with session_factory(engine())() as session:
            try:
                signed = sign_in(session, username, password)
            except AccountLocked as exc:
                st.error(t("signin.locked", until=f"{exc.details['until']:%Y-%m-%d %H:%M}"))
            except BadCredentials as exc:
                st.error(t("signin.bad_credentials"))
                if exc.details.get("remaining", 99) <= 2:
                    st.warning(t("signin.remaining", n=exc.details["remaining"]))
            except SignInError as exc:
                st.error(t(exc.code))
            else:
                signed_in(signed.token)
            finally:
                # Failures are counted even though sign-in failed.
                session.commit()
        if st.session_state.get(TOKEN_KEY):
            st.rerun()

if get_settings().demo_mode:
    with session_factory(engine())() as session:
        accounts = demo_accounts(session)
    with st.expander(t("signin.demo_title"), expanded=True):
        st.markdown(t("signin.demo_password", password=DEMO_PASSWORD))
        for role in ("grid_leader", "member", "department", "supervisor", "analyst", "admin"):
            names = accounts.get(role, [])
            if names:
                shown = names if len(names) <= 6 else [*names[:5], "…"]
                st.markdown(f"**{t(f'role.{role}')}**: " + ", ".join(f"`{n}`" for n in shown))

# Read the district's case facts while the user signs in, so a supervisor's first filter
# change does not wait for a million cases (see governance.facts).
warm_case_facts()
