"""The admin page (AppTest): the district's status, an account step confirmed first, the admin log."""

from __future__ import annotations

from governance.db import make_engine, session_factory
from governance.login import issue_token, must_change_password, sign_in
from tests.test_dashboard import use_database, writable_demo  # noqa: F401  (fixtures)
from tests.test_dashboard_access import run_page


def _step(at, step: str, username: str, *, confirm: bool):
    at.selectbox(key="admin-step").set_value(step)
    at.text_input(key="admin-username").input(username)
    at.checkbox(key="admin-confirm-step").set_value(confirm)
    return at.button(key="FormSubmitter:admin-account-step-Run").click().run()


def test_admin_sees_the_status_resets_a_password_after_confirming_and_the_log_says_so(
        use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    at = run_page("admin", issue_token("admin"))
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "District administration"
    status = at.dataframe[0].value
    assert "Grids without a leader" in set(status["Item"]) and "District boundary" in set(status["Item"])

    at = _step(at, "reset", "leader01", confirm=False)
    assert any("Tick the confirmation first." in e.value for e in at.error)
    at = _step(at, "reset", "leader01", confirm=True)
    shown = [w.value for w in at.warning if "One-time password of leader01" in w.value]
    assert shown, [w.value for w in at.warning]
    temporary = shown[0].split(": ")[1].split(" ")[0]
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        assert sign_in(session, "leader01", temporary) and must_change_password(session, "leader01")
        session.rollback()
    engine.dispose()

    at = _step(at, "disable", "nobody-such", confirm=True)
    assert any("no user named 'nobody-such'" in e.value for e in at.error)

    log = at.dataframe[-1].value
    assert list(log.columns) == ["When", "Who", "What", "On", "Rows", "Detail"]
    assert (log.iloc[0]["Who"], log.iloc[0]["What"], log.iloc[0]["On"]) == ("admin", "Password reset", "leader01")
