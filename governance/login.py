"""Signing in: password check, lock-out after repeated failures, session tokens.

Kept out of the dashboard so that it is tested without Streamlit and can be
reused by any other front end.  The database holds everything that matters
(failed attempts, lock-out time, last sign-in); the caller keeps only the
opaque token that :func:`sign_in` returns and hands it back to
:func:`check_token` on every request.

Tokens are HMAC-signed ``username|issued|last_seen`` strings.  They expire
``timeout`` after the last activity; :func:`check_token` returns a refreshed
token (sliding expiry).  The signing key is random per process unless
``secret`` is given, so a restart signs everybody out, as it would with a
server-side session store.  The role and grids of the user are *not* in the
token: they are read from the database on every request, so disabling a
user or moving them to another grid takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.auth import hash_password, needs_rehash, verify_password
from governance.errors import LinpuError
from governance.models import User

#: Failed attempts in a row that lock an account.
MAX_FAILURES = 5
#: How long a locked account stays locked.
LOCKOUT = timedelta(minutes=15)

_PROCESS_SECRET = os.urandom(32)
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
    """The token is too old, malformed, or signed by another process."""

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
    secret: bytes | None = None,
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
                    issue_token(user.username, now=now, secret=secret))


def _sign(payload: str, secret: bytes | None) -> str:
    return hmac.new(secret or _PROCESS_SECRET, payload.encode(), hashlib.sha256).hexdigest()


def issue_token(username: str, *, now: datetime | None = None, issued: datetime | None = None,
                secret: bytes | None = None) -> str:
    """A signed token for ``username`` whose last activity is ``now``."""
    now = _now(now)
    issued = issued or now
    payload = f"{username}|{int(issued.timestamp())}|{int(now.timestamp())}"
    return f"{payload}|{_sign(payload, secret)}"


def check_token(
    token: str | None,
    *,
    timeout: timedelta,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> tuple[str, str]:
    """Validate a token; return ``(username, refreshed token)``.

    Raises
    ------
    SessionExpired
        No token, a forged or malformed one, or more than ``timeout`` since
        the last activity.
    """
    now = _now(now)
    if not token:
        raise SessionExpired("not signed in")
    try:
        username, issued, seen, signature = token.rsplit("|", 3)
        payload = f"{username}|{issued}|{seen}"
        last_seen = datetime.fromtimestamp(int(seen), UTC)
        issued_at = datetime.fromtimestamp(int(issued), UTC)
    except ValueError:
        raise SessionExpired("malformed session token") from None
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        raise SessionExpired("session token not valid here (the server may have restarted)")
    if now - last_seen > timeout:
        raise SessionExpired(f"no activity for more than {int(timeout.total_seconds() // 60)} minutes")
    return username, issue_token(username, now=now, issued=issued_at, secret=secret)


def demo_accounts(session: Session) -> dict[str, list[str]]:
    """Active user names per role, for the demo-mode sign-in page only."""
    rows = session.execute(
        select(User.role, User.username).where(User.is_active.is_(True)).order_by(User.username)
    ).all()
    accounts: dict[str, list[str]] = {}
    for role, username in rows:
        accounts.setdefault(str(role), []).append(username)
    return accounts
