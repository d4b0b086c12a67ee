"""Signing in: password check, lock-out after repeated failures, session tokens.

Kept out of the dashboard so that it is tested without Streamlit and can be
reused by any other front end.  The database holds everything that matters
(failed attempts, lock-out time, last sign-in); the caller keeps only the
opaque token that :func:`sign_in` returns and hands it back to
:func:`check_token` on every request.

A token is random (nothing in it names the user); the ``web_sessions`` table
keeps its SHA-256 and the last activity, so a token expires ``timeout``
after the last activity (sliding), survives a restart of the app, and is
ended everywhere at once by sign-out, a password change or an admin's reset.
The role and grids of the user are *not* tied to the token: they are read
from the database on every request, so disabling a user or moving them to
another grid takes effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance import admin_log
from governance.auth import hash_password, needs_rehash, verify_password
from governance.db import make_engine, transaction
from governance.errors import LinpuError, NotFoundError, PermissionDenied, ValidationError
from governance.models import User, WebSession
from governance.settings import get_settings

#: Failed attempts in a row that lock an account.
MAX_FAILURES = 5
#: How long a locked account stays locked.
LOCKOUT = timedelta(minutes=15)

#: The password policy: at least this long, not the user name, not the password it replaces
#: (so a one-time password cannot be kept).  Enforced here for every path that sets one.
MIN_PASSWORD_LENGTH = 10
# Verified against when the user does not exist, so that an unknown name
# takes as long as a wrong password and does not reveal which names exist.
_DUMMY_HASH = hash_password("linpu-no-such-user")


class SignInError(LinpuError):
    """Base of the sign-in failures; ``code`` selects the message shown to the user."""

    code = "signin.failed"

    def __init__(self, message: str, **details: object):
        super().__init__(message)
        self.details = details


class BadCredentials(SignInError):
    """Unknown user name or wrong password (deliberately not told apart)."""

    code = "signin.bad_credentials"


class AccountLocked(SignInError):
    """Too many failures in a row; ``details['until']`` is when it unlocks."""

    code = "signin.locked"


class AccountDisabled(SignInError):
    code = "signin.disabled"


class SessionExpired(SignInError):
    """No such sign-in, or it was ended (sign-out, password change) or idle too long."""

    code = "signin.expired"


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    username: str
    display_name: str
    role: str
    token: str


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    max_failures: int = MAX_FAILURES,
    lockout: timedelta = LOCKOUT,
) -> SignedIn:
    """Check a user name and password; count failures; lock after ``max_failures``.

    The caller commits ``session`` whether this returns or raises: the
    failure count must be stored even when sign-in fails.

    Raises
    ------
    BadCredentials
        Unknown user or wrong password (the failure is counted).
    AccountLocked
        The account is locked; its ``details['until']`` says until when.
        The password is not even checked while locked.
    AccountDisabled
        The account exists and the password is right, but it is disabled.
    """
    now = _now(now)
    name = (username or "").strip()
    user = session.scalar(select(User).where(func.lower(User.username) == name.lower())) if name else None
    if user is None:
        verify_password(_DUMMY_HASH, password or "")
        raise BadCredentials("unknown user name or wrong password")

    locked_until = _aware(user.locked_until)
    if locked_until is not None and locked_until > now:
        raise AccountLocked(f"account {user.username!r} is locked until {locked_until:%H:%M} UTC",
                            until=locked_until)

    if not verify_password(user.password_hash, password or ""):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + lockout
            user.failed_logins = 0
            raise AccountLocked(
                f"account {user.username!r} is locked until {user.locked_until:%H:%M} UTC "
                f"after {max_failures} failed attempts",
                until=user.locked_until,
            )
        raise BadCredentials("unknown user name or wrong password",
                             remaining=max_failures - user.failed_logins)

    if not user.is_active:
        raise AccountDisabled(f"account {user.username!r} is disabled")

    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return SignedIn(user.id, user.username, user.display_name, str(user.role),
                    start_session(session, user, now=now))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _configured_engine(url: str):
    # Kept for the process: opening and disposing an engine per call churns SQLite's WAL files.
    return make_engine(url)


def _on_configured_database(work):
    """Run ``work(session)`` in a transaction on LINPU_DATABASE_URL (scripts and tests)."""
    with transaction(_configured_engine(get_settings().resolved_database_url)) as session:
        return work(session)


def start_session(session: Session, user: User, *, now: datetime | None = None) -> str:
    """A new sign-in for ``user``: the random token for the cookie; only its hash is stored."""
    now = _now(now)
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return token


def issue_token(username: str, *, now: datetime | None = None, session: Session | None = None) -> str:
    """A sign-in for ``username`` without a password (scripts, tests); last activity at ``now``.

    Without ``session`` it is written to the configured database.
    """
    if session is None:
        return _on_configured_database(lambda s: issue_token(username, now=now, session=s))
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise SessionExpired(f"no user {username!r}")
    return start_session(session, user, now=now)


def _live(session: Session, token: str | None) -> WebSession | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
    return row if row is not None and row.ended_at is None else None


def check_token(
    token: str | None,
    *,
    timeout: timedelta,
    now: datetime | None = None,
    session: Session | None = None,
) -> tuple[str, str]:
    """Validate a sign-in token and record the activity; return ``(username, token)``.

    Without ``session`` the configured database is used.  The caller commits.

    Raises
    ------
    SessionExpired
        No token, an unknown or ended one, or more than ``timeout`` since
        the last activity (which also ends it).
    """
    if session is None:
        return _on_configured_database(lambda s: check_token(token, timeout=timeout, now=now, session=s))
    now = _now(now)
    row = _live(session, token)
    if row is None:
        raise SessionExpired("not signed in, or signed out")
    if now - _aware(row.last_seen_at) > timeout:
        row.ended_at = now
        raise SessionExpired(f"no activity for more than {int(timeout.total_seconds() // 60)} minutes")
    # Written at most once a minute: a page rerun is not worth a write each time.
    if now - _aware(row.last_seen_at) >= timedelta(minutes=1):
        row.last_seen_at = now
    username = session.scalar(select(User.username).where(User.id == row.user_id))
    return username, token


def end_token(token: str | None, *, now: datetime | None = None, session: Session | None = None) -> None:
    """Sign out: the token no longer signs in anywhere (unknown tokens are ignored)."""
    if session is None:
        return _on_configured_database(lambda s: end_token(token, now=now, session=s))
    row = _live(session, token)
    if row is not None:
        row.ended_at = _now(now)
    return None


def end_sign_ins(session: Session, user: User, *, keep_token: str | None = None,
                 now: datetime | None = None) -> int:
    """End every live sign-in of ``user`` but the one holding ``keep_token``; how many ended."""
    rows = session.scalars(select(WebSession).where(WebSession.user_id == user.id,
                                                    WebSession.ended_at.is_(None))).all()
    kept = _hash(keep_token) if keep_token else None
    ended = [row for row in rows if row.token_hash != kept]
    for row in ended:
        row.ended_at = _now(now)
    return len(ended)


def password_problem(password: str, *, username: str, old: str | None = None) -> str | None:
    """Why ``password`` breaks the policy (English / Chinese), or None when it is fine."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"at least {MIN_PASSWORD_LENGTH} characters are required / "
                f"密码至少 {MIN_PASSWORD_LENGTH} 个字符")
    if password.strip().lower() == (username or "").strip().lower():
        return "must not be the user name / 密码不能与用户名相同"
    if old is not None and password == old:
        return "must differ from the current (one-time) password / 新密码不能与当前（一次性）密码相同"
    return None


def check_password(password: str, *, username: str, old: str | None = None) -> None:
    """ValidationError naming the field when ``password`` breaks the policy."""
    problem = password_problem(password, username=username, old=old)
    if problem:
        raise ValidationError(f"field password: {problem}")


def one_time_password() -> str:
    """A random password for a new or reset account; its holder must replace it at first sign-in.

    It begins with a letter: ``token_urlsafe`` alone begins with ``-`` once in 64, and a
    spreadsheet opening the passwords CSV would then run it as a formula."""
    return secrets.choice(string.ascii_letters) + secrets.token_urlsafe(12)


def must_change_password(session: Session, username: str) -> bool:
    """True while the account still holds a one-time password (kept in the database, so a
    reload or another browser cannot skip the change)."""
    return bool(session.scalar(select(User.must_change_password).where(User.username == username)))


def change_password(session: Session, user: str, old: str, new: str, *, keep_token: str | None = None,
                    now: datetime | None = None) -> int:
    """The user changes their own password; their other sign-ins end. Returns how many ended.

    Raises BadCredentials for a wrong ``old`` password, ValidationError for a ``new`` one
    that breaks the policy (:func:`password_problem`).  Clears a pending forced change.
    """
    row = session.scalar(select(User).where(User.username == user))
    if row is None or not verify_password(row.password_hash, old or ""):
        raise BadCredentials("the current password is wrong")
    check_password(new, username=row.username, old=old)
    row.password_hash = hash_password(new)
    row.must_change_password = False
    return end_sign_ins(session, row, keep_token=keep_token, now=now)


def reset_password_as(session: Session, actor: str, username: str, *, now: datetime | None = None) -> str:
    """Give ``username`` a one-time password (returned), to be replaced at their next sign-in;
    ends all their sign-ins and writes the admin log.  The caller checks ``actor`` may."""
    row = session.scalar(select(User).where(User.username == username))
    if row is None:
        raise NotFoundError(f"field username: no user named {username!r} / 没有用户 {username!r}")
    temporary = one_time_password()
    row.password_hash = hash_password(temporary)
    row.must_change_password = True
    row.failed_logins = 0
    row.locked_until = None
    end_sign_ins(session, row, now=now)
    admin_log.record(session, actor=actor, action="password_reset", target=username, rows=1, now=now)
    return temporary


def reset_password(session: Session, admin, username: str, *, now: datetime | None = None) -> str:
    """An admin sets a one-off password for ``username`` (returned) and ends all their sign-ins."""
    if str(getattr(admin.role, "value", admin.role)) != "admin":
        raise PermissionDenied(f"only an admin may reset a password; {admin.username} is not one")
    return reset_password_as(session, admin.username, username, now=now)


def demo_accounts(session: Session) -> dict[str, list[str]]:
    """Active user names per role, for the demo-mode sign-in page only."""
    rows = session.execute(
        select(User.role, User.username).where(User.is_active.is_(True)).order_by(User.username)
    ).all()
    accounts: dict[str, list[str]] = {}
    for role, username in rows:
        accounts.setdefault(str(role), []).append(username)
    return accounts
