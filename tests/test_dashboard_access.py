"""Access through the pages: every role x every page with Streamlit's AppTest (issue 7).

Each page script is run directly (as a URL would open it) with a session
token of each demo role, with no token, with an expired and a forged token,
and as a user disabled after signing in.  Expected, from the issue: a grid
leader opens only their own page; supervisors and analysts open the
district pages (an analyst read-only: no action buttons); the admin opens
everything; nobody without a valid session, and no disabled user, sees any
page content.  Reuses the dashboard engineer's fixtures and helpers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from governance.db import make_engine
from governance.login import issue_token
from governance.models import User
from tests.test_dashboard import ROOT, TIMEOUT, use_database, writable_demo  # noqa: F401  (fixtures)

PAGES = ("leader", "supervisor", "analyst", "admin", "password")
ROLES = {"leader01": "grid_leader", "supervisor1": "supervisor", "analyst1": "analyst", "admin": "admin"}
MAY_OPEN = {
    "grid_leader": {"leader", "password"},
    "supervisor": {"supervisor", "analyst", "password"},
    "analyst": {"analyst", "supervisor", "password"},
    "admin": {"admin", "leader", "supervisor", "analyst", "password"},
}
WRITE_BUTTONS = ("take_on", "resolve", "confirm", "reopen", "dismiss", "close_not_responsible", "dispatch")


def run_page(page: str, token: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard" / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
    if token:
        at.session_state["linpu_token"] = token
    at.query_params["lang"] = "en"
    return at.run()


def refused(at: AppTest) -> bool:
    return not at.title and bool(at.error or at.warning) and not at.dataframe


@pytest.mark.parametrize("username", sorted(ROLES))
def test_every_role_on_every_page(use_database, writable_demo, username):  # noqa: F811
    use_database(writable_demo)
    problems = []
    for page in PAGES:
        at = run_page(page, issue_token(username))
        allowed = page in MAY_OPEN[ROLES[username]]
        if at.exception:
            problems.append(f"{username} on {page}: exception {[e.value for e in at.exception]}")
        elif allowed and (refused(at) or not at.title):
            problems.append(f"{username} on {page}: refused, should open")
        elif not allowed and not refused(at):
            problems.append(f"{username} on {page}: opened ({[t.value for t in at.title]}), should be refused")
        if allowed and ROLES[username] == "analyst":
            labels = [b.label for b in at.button] + [str(b.key) for b in at.button]
            assert not [b for b in labels if any(w in b.lower().replace(" ", "_") for w in WRITE_BUTTONS)], labels
    assert not problems, "\n".join(problems)


def test_no_expired_or_forged_session_opens_any_page(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    old = issue_token("admin", now=datetime.now(UTC) - timedelta(hours=12))
    for token in (None, old, "admin|1|9999999999|forged", "admin"):
        for page in PAGES:
            at = run_page(page, token)
            assert not at.exception and refused(at), (token, page)


def test_a_user_disabled_after_signing_in_is_refused_at_the_next_request(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    token = issue_token("admin")
    assert run_page("analyst", token).title
    engine = make_engine(writable_demo)
    with engine.begin() as connection:
        connection.execute(update(User).where(User.username == "admin").values(is_active=False))
    engine.dispose()
    for page in PAGES:
        at = run_page(page, token)
        assert not at.exception and refused(at), page


@pytest.mark.parametrize(("username", "may_act"), [("supervisor1", True), ("analyst1", False), ("admin", True)])
def test_only_writing_roles_get_action_buttons_on_the_supervisor_page(use_database, writable_demo,  # noqa: F811
                                                                       username, may_act):
    from governance import queries
    from governance.db import transaction
    from governance.permissions import system_viewer

    use_database(writable_demo)
    engine = make_engine(writable_demo)
    with transaction(engine) as session:
        cases = queries.cases_frame(session, system_viewer())
    engine.dispose()
    warning = cases[cases["state"] == "warning"].iloc[0]
    at = run_page("supervisor", issue_token(username))
    at.selectbox(key="sup-grid").set_value(warning["grid_code"]).run()
    at.selectbox(key="sup-case").set_value(warning["case_no"]).run()
    assert not at.exception, [e.value for e in at.exception]
    has_actions = any(r.key == "sup-action-choice" for r in at.radio)
    assert has_actions == may_act
