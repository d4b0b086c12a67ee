"""Sign-in: password, lock-out, tokens and their timeout, without Streamlit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.auth import hash_password
from governance.db import session_factory
from governance.errors import PermissionDenied, ValidationError
from governance.login import (
    AccountDisabled,
    AccountLocked,
    BadCredentials,
    SessionExpired,
    change_password,
    check_token,
    demo_accounts,
    end_token,
    issue_token,
    reset_password,
    sign_in,
)
from governance.models import User, WebSession
from governance.permissions import viewer_for

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=30)


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
            return sign_in(session, username, password, now=now, **kw)
        finally:
            session.commit()


def test_right_password_signs_in_and_records_the_time(users):
    signed = attempt(users, "Leader01", "right")
    assert (signed.username, signed.role) == ("leader01", "grid_leader")
    assert check(users, signed.token)[0] == "leader01"
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


def check(factory, token, now=NOW):
    """One page request with ``token``, committed as the dashboard does it."""
    with factory() as session:
        try:
            return check_token(token, timeout=TIMEOUT, now=now, session=session)
        finally:
            session.commit()


def test_token_expires_after_idle_timeout_and_slides_with_activity(users):
    token = attempt(users, "leader01", "right").token
    assert check(users, token, NOW + timedelta(minutes=20))[0] == "leader01"
    # Activity at +20 min keeps the session alive until +50 min ...
    assert check(users, token, NOW + timedelta(minutes=45))[0] == "leader01"
    # ... and 31 idle minutes end it for good, even if activity came later.
    with pytest.raises(SessionExpired):
        check(users, token, NOW + timedelta(minutes=76))
    with pytest.raises(SessionExpired):
        check(users, token, NOW + timedelta(minutes=46))


def test_the_token_is_random_and_only_its_hash_is_stored(users):
    token = attempt(users, "leader01", "right").token
    assert "leader01" not in token and len(token) >= 40
    with users() as session:
        stored = session.query(WebSession).one().token_hash
    assert token not in stored and len(stored) == 64


@pytest.mark.parametrize("token", [None, "", "garbage", "admin|1|1|deadbeef", "x" * 500])
def test_forged_or_malformed_tokens_are_refused(users, token):
    attempt(users, "leader01", "right")
    with pytest.raises(SessionExpired):
        check(users, token)


def test_a_token_altered_by_one_character_is_refused(users):
    token = attempt(users, "leader01", "right").token
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(SessionExpired):
        check(users, altered)


def test_sign_out_ends_the_token(users):
    token = attempt(users, "leader01", "right").token
    with users() as session, session.begin():
        end_token(token, now=NOW, session=session)
    with pytest.raises(SessionExpired):
        check(users, token)


def test_issue_token_without_a_password_signs_in_only_known_users(users):
    with users() as session, session.begin():
        token = issue_token("leader01", now=NOW, session=session)
        with pytest.raises(SessionExpired):
            issue_token("nobody", now=NOW, session=session)
    assert check(users, token)[0] == "leader01"


def test_password_change_ends_the_other_sign_ins_and_keeps_this_one(users):
    phone = attempt(users, "leader01", "right").token
    desk = attempt(users, "leader01", "right").token
    with users() as session, session.begin():
        assert change_password(session, "leader01", "right", "new-password", keep_token=desk, now=NOW) == 1
    with pytest.raises(SessionExpired):
        check(users, phone)
    assert check(users, desk)[0] == "leader01"
    with pytest.raises(BadCredentials):
        attempt(users, "leader01", "right")
    assert attempt(users, "leader01", "new-password").username == "leader01"


def test_password_change_needs_the_current_password_and_a_long_enough_new_one(users):
    token = attempt(users, "leader01", "right").token
    with users() as session:
        with pytest.raises(BadCredentials):
            change_password(session, "leader01", "wrong", "new-password")
        with pytest.raises(ValidationError, match="at least 10"):
            change_password(session, "leader01", "right", "short")
        session.rollback()
    assert check(users, token)[0] == "leader01"
    assert attempt(users, "leader01", "right").username == "leader01"


def test_admin_reset_ends_every_sign_in_and_only_an_admin_may_reset(users):
    token = attempt(users, "leader01", "right").token
    with users() as session, session.begin():
        session.add(User(username="admin", display_name="Admin", role="admin", password_hash=hash_password("x")))
        session.flush()
        with pytest.raises(PermissionDenied):
            reset_password(session, viewer_for(session, "leader01"), "leader01")
        temporary = reset_password(session, viewer_for(session, "admin"), "leader01", now=NOW)
    with pytest.raises(SessionExpired):
        check(users, token)
    assert attempt(users, "leader01", temporary).username == "leader01"


def test_demo_accounts_lists_active_users_per_role(users):
    with users() as session:
        assert demo_accounts(session) == {"grid_leader": ["leader01"]}
