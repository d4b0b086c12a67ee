"""My password: every signed-in user changes their own; the only page while a one-time password is held."""

from __future__ import annotations

import streamlit as st

from dashboard import accounts
from dashboard.auth import current_token, require
from dashboard.context import language
from dashboard.i18n import translate
from dashboard.widgets import done, flash
from governance.errors import ValidationError
from governance.login import MIN_PASSWORD_LENGTH, BadCredentials

viewer = require("password")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

st.title(t("pw.title"))
flash()
forced = accounts.must_change_password(viewer.username)
if forced:
    st.warning(t("pw.forced"))
st.caption(t("pw.policy", n=MIN_PASSWORD_LENGTH))

with st.form("my-password", clear_on_submit=True):
    old = st.text_input(t("pw.current"), type="password", key="pw-current")
    new = st.text_input(t("pw.new"), type="password", key="pw-new")
    again = st.text_input(t("pw.again"), type="password", key="pw-again")
    submitted = st.form_submit_button(t("pw.submit"), type="primary")

if submitted:
    if new != again:
        st.error(t("pw.mismatch"))
    else:
        try:
            accounts.change_own_password(viewer, old, new, keep_token=current_token())
        except BadCredentials:
            st.error(t("pw.wrong"))
        except ValidationError as exc:
            st.error(t("pw.refused", reason=str(exc).removeprefix("field password: ")))
        else:
            done(t("pw.changed"))
