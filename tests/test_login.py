"""Sign-in: password, lock-out, tokens and their timeout, without Streamlit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.auth import hash_password
from governance.db import session_factory
from governance.login import (
    AccountDisabled,
    AccountLocked,
    BadCredentials,
    SessionExpired,
    check_token,
    demo_accounts,
    issue_token,
    sign_in,
)
from governance.models import User

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
SECRET = b"test-secret"


@pytest.fixture
def users(engine):
    factory = session_factory(engine)
    with factory() as session, session.begin():
        session.add_all([
            User(username="leader01", display_name="洪清泉", role="grid_leader",
                 password_hash=hash_password("right")),
            User(username="gone", display_name="Gone", role="analyst",
                 password_hash=hash_password("right"), is_active=False),
        ])
    return factory


def attempt(factory, username, password, now=NOW, **kw):
    """One sign-in in its own committed transaction, as the page does it."""
    with factory() as session:
        try:
            return sign_in(session, username, password, now=now, secret=SECRET, **kw)
        finally:
            session.commit()


def test_right_password_signs_in_and_records_the_time(users):
    signed = attempt(users, "Leader01", "right")
    assert (signed.username, signed.role) == ("leader01", "grid_leader")
    assert check_token(signed.token, timeout=timedelta(minutes=30), now=NOW, secret=SECRET)[0] == "leader01"
    with users() as session:
        user = session.query(User).filter_by(username="leader01").one()
        assert user.last_login_at.replace(tzinfo=UTC) == NOW
        assert user.failed_logins == 0


def test_unknown_user_and_wrong_password_look_the_same(users):
    with pytest.raises(BadCredentials) as unknown:
        attempt(users, "nobody", "right")
    with pytest.raises(BadCredentials) as wrong:
        attempt(users, "leader01", "wrong")
    assert str(unknown.value) == str(wrong.value)


def test_lockout_after_repeated_failures_then_unlocks(users):
    for _ in range(2):
        with pytest.raises(BadCredentials):
            attempt(users, "leader01", "wrong", max_failures=3)
    with pytest.raises(AccountLocked) as locked:
        attempt(users, "leader01", "wrong", max_failures=3, lockout=timedelta(minutes=10))
    assert locked.value.details["until"] == NOW + timedelta(minutes=10)
    # Even the right password is refused while locked ...
    with pytest.raises(AccountLocked):
        attempt(users, "leader01", "right", now=NOW + timedelta(minutes=9))
    # ... and accepted afterwards, which also clears the counter.
    assert attempt(users, "leader01", "right", now=NOW + timedelta(minutes=11)).username == "leader01"
    with users() as session:
        user = session.query(User).filter_by(username="leader01").one()
        assert user.failed_logins == 0 and user.locked_until is None


def test_disabled_account_is_refused(users):
    with pytest.raises(AccountDisabled):
        attempt(users, "gone", "right")


def test_token_expires_after_idle_timeout_and_slides_with_activity():
    token = issue_token("leader01", now=NOW, secret=SECRET)
    timeout = timedelta(minutes=30)
    _, refreshed = check_token(token, timeout=timeout, now=NOW + timedelta(minutes=20), secret=SECRET)
    # Activity at +20 min keeps the session alive until +50 min.
    assert check_token(refreshed, timeout=timeout, now=NOW + timedelta(minutes=45), secret=SECRET)[0] == "leader01"
    with pytest.raises(SessionExpired):
        check_token(token, timeout=timeout, now=NOW + timedelta(minutes=31), secret=SECRET)


@pytest.mark.parametrize("token", [None, "", "garbage", "admin|1|1|deadbeef"])
def test_forged_or_malformed_tokens_are_refused(token):
    with pytest.raises(SessionExpired):
        check_token(token, timeout=timedelta(minutes=30), now=NOW, secret=SECRET)


def test_token_signed_with_another_key_is_refused():
    token = issue_token("admin", now=NOW, secret=b"other")
    with pytest.raises(SessionExpired):
        check_token(token, timeout=timedelta(minutes=30), now=NOW, secret=SECRET)


def test_demo_accounts_lists_active_users_per_role(users):
    with users() as session:
        assert demo_accounts(session) == {"grid_leader": ["leader01"]}
